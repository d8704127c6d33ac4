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
from .question import Found, QuestionAnalysis, subject_groups

_PREP_BEFORE = re.compile(r"\b(in|at|on|from|to|into|near|of)\s+(the\s+)?$", re.IGNORECASE)


# Where one clause of a sentence ends: punctuation, or a word joining two statements ("began in
# 1789 and ended in 1799", "from 49 BC until his assassination in 44 BC"). Not a dash between digits.
_CLAUSE_BREAK = re.compile(
    r"[;:()\[\]—]|,\s|\.\s|\s[–-]\s|\b(?:and|but|while|whereas|until|till|though|although)\b"
)


def _clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause around a span: from the last break before it to the first break after it. A clause
    that is only the span ("On 29 May 1885, ... the king announced", "whose patriarch, José Arcadio
    Buendía, founded") is read with the next two clauses, which say what the span is about."""
    left = 0
    for m in _CLAUSE_BREAK.finditer(sentence, 0, start):
        left = m.end()
    right = end
    for i, m in enumerate(_CLAUSE_BREAK.finditer(sentence, end)):
        right = m.start()
        if i == 0 and tokenize(f"{sentence[left:start]} {sentence[end:right]}"):
            return left, right
        if i == 2:
            return left, right
    return left, len(sentence)


def _near_stems(analysis: QuestionAnalysis) -> frozenset[str]:
    """The question's words an answer span should stand next to: what it asks about its subject, and the
    names beside the main subject ("when did Ponce de León reach **Florida**")."""
    if analysis.focus == "role" and analysis.subject_stems:
        return frozenset().union(*analysis.subject_stems)  # the role next to the person's name
    groups = subject_groups(analysis)
    return analysis.predicate.union(*groups[1:]) if len(groups) > 1 else analysis.predicate


def _clause_share(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> float:
    """How much of what the question asks the span's clause holds besides the span: each of the
    question's words about its subject counts 1, each other name it gives ("Florida", "a Grammy") 0.5."""
    left, right = _clause(sentence, start, end)
    said = set(tokenize(f"{sentence[left:start]} {sentence[end:right]}"))
    if analysis.focus == "role":
        return float(len(_near_stems(analysis) & said))
    groups = subject_groups(analysis)
    return len(analysis.predicate & said) + 0.5 * sum(1 for g in groups[1:] if g & said)


_ADJECTIVE_AFTER = re.compile(r"\s+(?!(?:of|and|de|the|von|van|der|da|du|la|le|al|bin|y)\b)[a-z]")
# Units a question may name ("how long is the Nile in km?", "how many acres"), each with its spellings.
_UNIT_NAMES = {
    "km": r"km|kilomet(?:re|er)s?", "mi": r"mi|miles?", "m": r"m|met(?:re|er)s?", "ft": r"ft|feet|foot",
    "cm": r"cm|centimet(?:re|er)s?", "kg": r"kg|kilograms?", "lb": r"lbs?|pounds?", "acre": r"acres?",
    "ha": r"ha|hectares?", "k": r"K|kelvin", "c": r"°\s?C|celsius", "f": r"°\s?F|fahrenheit",
    "mph": r"mph|miles per hour", "kmh": r"km/h|kph|kilomet(?:re|er)s per hour", "sqkm": r"km2|km²|square kilomet(?:re|er)s?",
    "sqmi": r"sq ?mi|square miles?",
}  # fmt: skip
_UNIT_IN_QUESTION = {u: re.compile(rf"\b(?:in|how many)\s+(?:{w})\b", re.IGNORECASE) for u, w in _UNIT_NAMES.items()}
_UNIT_IN_SPAN = {u: re.compile(rf"(?<![\w])(?:{w})(?![\w])") for u, w in _UNIT_NAMES.items()}


def _asked_unit(analysis: QuestionAnalysis) -> str | None:
    """The unit the question names ("in km", "how many acres"), if any."""
    for unit, pattern in _UNIT_IN_QUESTION.items():
        if pattern.search(analysis.text):
            return unit
    return None


def _span_preference(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> float:
    """Higher for the span most likely to be the answer: in the clause that says what the question asks,
    near the question's words, person-like for who."""
    score = CLAUSE_WEIGHT * _clause_share(analysis, sentence, start, end)
    text = sentence[start:end]
    if analysis.answer_type in {"person", "organisation"} and " " not in text and _ADJECTIVE_AFTER.match(sentence, end):
        score -= 1.0  # "an English computer scientist", "Successive dynasties": a word describing a noun
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
    unit = _asked_unit(analysis) if analysis.family in {"measure", "count"} else None
    if unit and _UNIT_IN_SPAN[unit].search(text):
        score += 2.0  # "how long is the Nile in km?": the figure in kilometres, not the one in miles
    near = _near_stems(analysis)
    distance = _distance(sentence, start, end, near)
    if distance < 200:
        score -= distance / 200.0
    return score


CLAUSE_WEIGHT = 1.0


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


_SENTENCE_END = re.compile(r"(\w{2,})\.\s+(?=[A-Z])")
_ABBREVIATIONS = frozenset(
    "gen col capt cpt maj adm sgt cpl lt mr mrs ms dr st jr sr gov sen rep prof rev mt ft co no vol".split()
)


def _name(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> tuple[int, int]:
    """A name without the question's own words in front ("Iran’s Supreme Leader Ayatollah Ali Khamenei"
    for "Who is Iran's Supreme Leader?" is "Ayatollah Ali Khamenei") and without the next sentence's
    first word ("King Frederick William IV. During")."""
    for cut in _SENTENCE_END.finditer(sentence, start, end):
        if cut.group(1).lower() not in _ABBREVIATIONS:
            end = cut.end(1)
            break
    words = list(re.finditer(r"\S+", sentence[start:end]))
    for i, w in enumerate(words[:-1]):
        stems = tokenize(w.group(0))
        if stems and all(st in analysis.stems for st in stems):
            continue
        if i and words[i].group(0)[:1].isupper():
            start += words[i].start()
        break
    return start, end


def _widen(analysis: QuestionAnalysis, sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """A role word with the words that make it a title ("foreign minister", "minister of defence")."""
    if kind == "year":
        more = _RANGE_END.match(sentence, end)
        start, end = (start, more.end()) if more else (start, end)
    if kind not in {"role", "description", "person", "organisation", "city", "country", "place", "title", "yesno"}:
        return _with_range(sentence, start, end, kind)
    if kind in {"person", "organisation"}:
        return _name(analysis, sentence, start, end)
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
    """Characters between the span and the nearest word with one of `stems` outside it (capped at 200)."""
    gaps = [
        start - m.end() if m.end() <= start else m.start() - end
        for m in re.finditer(r"\w+", sentence)
        if not (start <= m.start() < end) and set(tokenize(m.group(0))) & stems
    ]
    return float(min(200, max(0, min(gaps)))) if gaps else 200.0


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
    """Each span widened to what a reader would quote, in sentence order; a span inside another's
    widening ("Leader" inside "Representative of the Supreme Leader") and duplicates dropped."""
    out: list[tuple[int, int]] = []
    for f in spans:
        span = _widen(analysis, sentence, f.start, f.end, f.kind)
        if span not in out:
            out.append(span)
    return [s for s in out if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in out)]


def span_feature_rows(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> list[list[float]]:
    """One SPAN_FEATURES row per widened span (for fitting: the same order as `widened`)."""
    return [span_row(analysis, sentence, s, e, i) for i, (s, e) in enumerate(widened(analysis, sentence, spans))]


def best_span(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> tuple[int, int]:
    """The short answer among the spans, as offsets into the sentence (spans must not be empty)."""
    from .support_weights import SPAN_MODEL

    options = widened(analysis, sentence, spans)
    if not SPAN_MODEL or len(options) == 1:
        return max(options, key=lambda o: (_span_preference(analysis, sentence, *o), -o[0]))
    coef = SPAN_MODEL["coef"]
    mean, scale = SPAN_MODEL["mean"], SPAN_MODEL["scale"]

    def score(i: int) -> float:
        row = span_row(analysis, sentence, *options[i], i)
        return sum(c * (x - m) / sc for c, x, m, sc in zip(coef, row, mean, scale, strict=True))

    best = max(range(len(options)), key=lambda i: (score(i), -i))
    return options[best]
