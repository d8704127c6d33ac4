"""Short answers: which span of the answer sentence is quoted, and how far it reaches."""

from __future__ import annotations

import pytest

from qabot.question import analyze, find_spans
from qabot.span_model import best_span


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How high does the air flow?", "The air flows poleward at a height of 12–15 km.", "12–15 km"),
        ("How long do people survive?", "Without treatment, people survive 9 to 11 years.", "9 to 11 years"),
        ("When did Shakespeare write Hamlet?", "He wrote Hamlet between 1599 and 1601.", "between 1599 and 1601"),
        ("How long did Louis XIV reign?", "Louis XIV reigned for 72 years and 110 days.", "72 years and 110 days"),
        ("How many species are there?", "There are 65,000 to 80,000 living species.", "65,000 to 80,000"),
        ("How many missiles were launched?", "Officials said 15 missiles were launched.", "15"),
    ],
)
def test_a_range_is_quoted_whole(question: str, sentence: str, expected: str) -> None:
    analysis = analyze(question)
    spans = find_spans(analysis, sentence)
    assert spans, "no span of the expected type"
    start, end = best_span(analysis, sentence, spans)
    assert sentence[start:end] == expected


def test_a_range_does_not_swallow_the_next_word() -> None:
    analysis = analyze("When was al-Razi born?")
    sentence = "Al-Razi was born in 1864 or 1865 in Ray."
    start, end = best_span(analysis, sentence, find_spans(analysis, sentence))
    assert sentence[start:end] == "in 1864 or 1865"
