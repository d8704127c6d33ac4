"""End to end on the seed article with the real model, FAISS, BM25 and SQLite."""

from __future__ import annotations

import pytest

from qabot.errors import QuestionError

from .conftest import SEED_FILE

pytestmark = pytest.mark.slow  # the real model

ANSWERABLE = [
    ("How many ballistic missiles were launched?", "15 ballistic missiles"),
    ("How many of the missiles failed?", "four failed"),
    ("how many missiles hit the base in western Iraq", "Ten of those hit"),
    ("Who is Iran's foreign minister?", "Javad Zarif"),
    ("What did Trump tweet?", "All is well"),
    ("When would Trump brief the nation?", "Wednesday morning"),
    ("Who claimed responsibility for the attack?", "Iranian government claimed responsibility"),
    ("Which news outlet did the Pentagon official talk to?", "ABC News"),
    ("Were there Iraqi casualties?", "no Iraqi casualties"),
    ("What aircraft did the Marines arrive on?", "MV-22B Osprey"),
    ("What was Soleimani planning according to US officials?", "imminent attacks"),
    ("Who told the Iranian National Security Council that a response was necessary?", "Khamenei"),
]
UNANSWERABLE = [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who is the prime minister of Iraq?",
    "who won the super bowl?",
    "What is the population of Tehran?",
]


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_answers_with_exact_citations(seed_engine, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask(question)
    assert not answer.abstained, question
    assert expected.lower() in (answer.text or "").lower()
    assert len(answer.text or "") <= 400 + 10  # 400 characters of quotes plus the [n] markers
    text = SEED_FILE.open(encoding="utf-8", newline="").read()
    assert answer.citations, question
    for cite in answer.citations:
        assert cite.source == SEED_FILE.name
        assert text[cite.start : cite.end] == cite.text
    # The first citation supports the answer: its quote is in the answer text.
    assert " ".join(answer.citations[0].text.split()) in (answer.text or "")


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_when_the_article_does_not_say(seed_engine, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask(question)
    assert answer.abstained and answer.text is None
    assert answer.to_json() == {
        "question": question,
        "answer": None,
        "abstained": True,
        "short_answer": None,
        "citations": [],
    }


def test_follow_up_uses_the_earlier_question(seed_engine) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask("and how many failed?", history=["How many missiles did Iran launch?"])
    assert "four failed" in (answer.text or "")


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 100_000])
def test_bad_questions_are_refused_in_one_line(seed_engine, question: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QuestionError) as err:
        seed_engine.ask(question)
    assert "\n" not in str(err.value)


def test_json_shape(seed_engine) -> None:  # type: ignore[no-untyped-def]
    data = seed_engine.ask("How many ballistic missiles were launched?", k=3).to_json()
    assert set(data) == {"question", "answer", "abstained", "short_answer", "citations"}
    assert len(data["citations"]) == 3
    assert set(data["citations"][0]) == {"source", "start", "end", "text", "score", "page"}
    assert data["citations"][0]["page"] is None  # a .txt source; PDF citations carry their page


def test_questions_are_embedded_without_torch_after_a_build(seed_engine) -> None:  # type: ignore[no-untyped-def]
    """The build exported the model to ONNX; questions use it and agree with sentence-transformers."""
    import numpy as np

    embedder = seed_engine.embedder
    assert embedder.query_encoder is not None
    question = "How many ballistic missiles were launched?"
    fast = embedder.embed_query(question)
    slow = embedder.embed([question])[0]
    assert float(np.dot(fast, slow)) >= 0.999


def test_an_unrelated_question_after_a_conversation_still_abstains(seed_engine) -> None:  # type: ignore[no-untyped-def]
    history = ["How many missiles did Iran launch?", "and how many failed?"]
    assert seed_engine.ask("What is the capital of France?", history=history).abstained
