"""Which span of an answer sentence is the short answer.

The support check finds every span of the expected type in a sentence (`question.find_spans`);
this module widens each to what a reader would quote ("foreign minister" for "minister", a year
range) and ranks them: by a small logistic model over span features fitted offline
(`scripts/fit_support.py`, weights in `qabot/support_weights.py` as SPAN_MODEL), or, without
one, by the hand preference below (near the question's words, person-like for "who").
"""

from __future__ import annotations

import math
import re

from .lexical import tokenize
from .question import ROLE_WORDS as _ROLE_WORDS
from .question import Found, QuestionAnalysis

_PREP_BEFORE = re.compile(r"\b(in|at|on|from|to|into|near|of)\s+(the\s+)?$", re.IGNORECASE)


def _span_preference(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> float:
    """Higher for the span most likely to be the answer: near the question's words, person-like for who."""
    score = 0.0
    text = sentence[start:end]
    if analysis.answer_type == "person":
        words = text.split()
        if 2 <= len(words) <= 5:
            score += 1.0
        if _PREP_BEFORE.search(sentence[max(0, start - 12) : start]):
            score -= 1.0
        if _ROLE_WORDS.search(text.split()[-1]):
            score -= 1.5  # "Representative of the Supreme Leader" is a title, not the person
    if analysis.answer_type == "count" and analysis.focus:
        wanted = set(tokenize(analysis.focus))
        if wanted & set(tokenize(sentence[end : end + 30])):
            score += 2.0  # "75 districts" for "how many districts"
    near = analysis.predicate
    if analysis.focus == "role" and analysis.subject_stems:
        near = frozenset().union(*analysis.subject_stems)  # the role next to the person's name
    positions = [m.start() for m in re.finditer(r"\w+", sentence) if set(tokenize(m.group(0))) & near]
    if positions:
        distance = min(abs(p - start) if p < start else abs(p - end) for p in positions)
        score -= distance / 200.0
    return score


_RANGE_END = re.compile(r"\s*(?:to|and|until|till|–|-)\s*(?:\d{1,2}\s+\w+\s+)?(?:\d{3,4}|\d{1,4}\s?(?:BC|BCE|AD|CE))\b(?:\s?(?:BC|BCE|AD|CE)\b)?")  # noqa: E501


_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred"
)
_QUANTITY = rf"(?:\d[\d,.]*|(?:{_NUMBER_WORDS}))(?:\s?(?:%|°\s?[CFK]|(?!(?:in|on|at|and|or|of|the)\b)[A-Za-z]+\.?))?"
_RANGE_LEFT = re.compile(rf"(?:\bbetween\s+)?\b{_QUANTITY}\s*(?:to|–|—|-)\s*$|\bbetween\s+$", re.IGNORECASE)
_AND_LEFT = re.compile(rf"\bbetween\s+{_QUANTITY}\s+and\s+$", re.IGNORECASE)
_NOT_UNIT = r"(?!(?:in|on|at|and|or|of|the|by|to|for|from|with|as|was|is|are|were|when|after|before)\b)"
_RANGE_RIGHT = re.compile(rf"\s*(?:to|–|—|or)\s*\d[\d,.]*(?:\s?(?:%|{_NOT_UNIT}[A-Za-z]+\b))?", re.IGNORECASE)
_DURATION_RIGHT = re.compile(r"\s+and\s+\d+\s+(?:days|weeks|months|hours|minutes)\b", re.IGNORECASE)


def _with_range(sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """A number that is one end of a range or a compound with the rest of it: "12–15 km", "9 to 11 years",
    "between 1599 and 1601", "864 or 865", "72 years and 110 days"."""
    before = sentence[max(0, start - 40) : start]
    left = _AND_LEFT.search(before) or _RANGE_LEFT.search(before)
    if left:
        start -= len(before) - left.start()
    right = _RANGE_RIGHT.match(sentence, end)
    if right and not re.match(r"\s*-", sentence[end:]):
        end = right.end()
    elif kind == "duration" and (more := _DURATION_RIGHT.match(sentence, end)):
        end = more.end()
    return start, end


def _widen(analysis: QuestionAnalysis, sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """A role word with the words that make it a title ("foreign minister", "minister of defence")."""
    if kind == "year":
        more = _RANGE_END.match(sentence, end)
        start, end = (start, more.end()) if more else (start, end)
    if kind not in {"role", "description", "person", "organisation", "city", "country", "place", "title", "yesno"}:
        return _with_range(sentence, start, end, kind)
    if kind != "role":
        return start, end
    before = sentence[:start]
    m = re.search(r"((?:[A-Za-z’'-]+\s+){0,2})$", before)
    if m:
        words = m.group(1).split()
        keep: list[str] = []
        for word in reversed(words):
            if word.lower() in {"the", "a", "an", "and", "was", "is", "as", "his", "her", "their", "its", "of"}:
                break
            if word[0].isupper() and not word.endswith(("’s", "'s")):
                break
            keep.insert(0, word)
        if keep:
            start = sentence.rindex(" ".join(keep), 0, start + 1) if " ".join(keep) in before else start
    after = re.match(r"\s+(?:of|for)\s+(?:the\s+)?(?:[A-Z][\w’'-]*\s*)+", sentence[end:])
    if after:
        end += len(after.group(0).rstrip())
    return start, end


SPAN_FEATURES = (
    "preference", "words", "position", "index", "prep_before", "role_last", "focus_after",
    "near_predicate", "near_subject", "digits", "capitals", "whole", "in_brackets", "after_copula",
)  # fmt: skip


def _distance(sentence: str, start: int, end: int, stems: frozenset[str] | set[str]) -> float:
    """Characters from the span to the nearest word with one of `stems` (capped at 200)."""
    positions = [m.start() for m in re.finditer(r"\w+", sentence) if set(tokenize(m.group(0))) & stems]
    positions = [p for p in positions if not start <= p < end]
    if not positions:
        return 200.0
    return float(min(200, min(start - p if p < start else p - end for p in positions)))


def span_row(analysis: QuestionAnalysis, sentence: str, start: int, end: int, index: int) -> list[float]:
    """The features of one (widened) span, in the order of SPAN_FEATURES."""
    text = sentence[start:end]
    words = text.split() or [""]
    subject = frozenset().union(*analysis.subject_stems) if analysis.subject_stems else frozenset()
    focus = set(tokenize(analysis.focus or ""))
    return [
        _span_preference(analysis, sentence, start, end),
        math.log1p(len(words)),
        start / max(1, len(sentence)),
        float(min(index, 5)),
        1.0 if _PREP_BEFORE.search(sentence[max(0, start - 12) : start]) else 0.0,
        1.0 if _ROLE_WORDS.search(words[-1]) else 0.0,
        1.0 if focus and focus & set(tokenize(sentence[end : end + 30])) else 0.0,
        _distance(sentence, start, end, analysis.predicate) / 100.0,
        _distance(sentence, start, end, subject) / 100.0,
        1.0 if re.search(r"\d", text) else 0.0,
        sum(1 for w in words if w[:1].isupper()) / len(words),
        1.0 if end - start >= len(sentence.rstrip()) - 1 else 0.0,
        1.0 if sentence[:start].count("(") > sentence[:start].count(")") else 0.0,
        1.0 if re.search(r"\b(is|was|are|were)\s+(?:(?:a|an|the)\s+)?$", sentence[max(0, start - 16) : start]) else 0.0,
    ]


def widened(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> list[tuple[int, int]]:
    """Each span widened to what a reader would quote, duplicates dropped, in sentence order."""
    out: list[tuple[int, int]] = []
    for f in spans:
        span = _widen(analysis, sentence, f.start, f.end, f.kind)
        if span not in out:
            out.append(span)
    return out


def span_feature_rows(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> list[list[float]]:
    """One SPAN_FEATURES row per widened span (for fitting: the same order as `widened`)."""
    return [span_row(analysis, sentence, s, e, i) for i, (s, e) in enumerate(widened(analysis, sentence, spans))]


def best_span(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> tuple[int, int]:
    """The short answer among the spans, as offsets into the sentence (spans must not be empty)."""
    from .support_weights import SPAN_MODEL

    options = widened(analysis, sentence, spans)
    if not SPAN_MODEL or len(options) == 1:
        firsts = sorted(spans, key=lambda f: (-_span_preference(analysis, sentence, f.start, f.end), f.start))
        return _widen(analysis, sentence, firsts[0].start, firsts[0].end, firsts[0].kind)
    coef = SPAN_MODEL["coef"]
    mean, scale = SPAN_MODEL["mean"], SPAN_MODEL["scale"]

    def score(i: int) -> float:
        row = span_row(analysis, sentence, *options[i], i)
        return sum(c * (x - m) / sc for c, x, m, sc in zip(coef, row, mean, scale, strict=True))

    best = max(range(len(options)), key=lambda i: (score(i), -i))
    return options[best]
