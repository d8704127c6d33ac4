"""Choose the 1-2 sentences that best answer a question, or abstain.

Every candidate sentence comes from the top retrieved passages and is scored on
  - cosine between the question and the sentence (vectors computed at build time),
  - how much of the question's rare words it contains (IDF-weighted coverage),
  - the rank of its passage, and
  - whether it holds the kind of thing asked for (a number for "how many", ...).
Whether to answer at all is decided from the same signals by a logistic model fitted
on the labelled development set (see docs/quality.md); below the threshold qabot says
"The documents don't say." rather than quote something loosely related.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.base import IndexView
from .lexical import tokenize
from .records import Answer, Citation, Hit

if TYPE_CHECKING:
    import numpy as np

_NUMBER = re.compile(
    r"(?<![\w-])\d+(?:[.,]\d+)*(?![\w-])|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred|"
    r"dozens?|tens|hundreds|thousands?|millions?|billions?|several|multiple|none|no)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(1\d{3}|20\d{2}|\d{1,2}(st|nd|rd|th)? century|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"morning|evening|night|january|february|march|april|may|june|july|august|september|october|november|"
    r"december|yesterday|today|tonight|week|ago|bc|bce|ad|ce|\d+s)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(
    r"\b(in|at|near|from|to|into|across|outside|inside|off|of)\s+(the\s+)?([a-z-]+\s+)?[A-Z][\w-]+|"
    r"\b(north|south|east|west)(ern)?\b|\b(north|south)-(east|west)(ern)?\b",
)
_NAME = re.compile(r"(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][\w’'-]+)+")

# Sentence ranking weights (tuned on the development sets; docs/quality.md).
W_COS, W_COVER, W_RANK, W_TYPE = 0.45, 0.40, 0.10, 0.30
SECOND_SENTENCE_RATIO = 0.60
CONTEXT_WEIGHT = 0.3  # weight of earlier questions' words in a follow-up
# Abstention model: logistic regression over the answer's signals, fitted by
# scripts/fit_abstention.py on eval/seed.jsonl, eval/wiki.jsonl and eval/wiki-train.jsonl
# (docs/quality.md #48). support = sigmoid(z). The "unknown" signal (share of the question's
# words no passage holds) is reported but left out: fitted, it came out positive (typos in
# answerable questions) and let off-topic questions through.
SUPPORT_BIAS = -3.123
SUPPORT_WEIGHTS = {
    "cosine": 3.375, "coverage": 3.251, "top_cosine": -2.477, "max_cosine": 2.483,
    "type_mismatch": -1.722, "gain": -3.436, "number_missing": -1.462,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    source: str
    start: int
    end: int
    text: str
    passage_rank: int
    cosine: float
    coverage: float
    type_match: float
    score: float
    vector: np.ndarray | None = None


_MEASURES = (
    r"\b(population|area|height|length|depth|diameter|radius|distance|speed|weight|mass|size|temperature|"
    r"thickness|width|elevation|volume|capacity|value|price|cost|budget|revenue|percentage|share|number|"
    r"amount|rate|age|total)\b"
)


def question_kind(question: str) -> str:
    """What kind of thing the question asks for: number, time, place, name or other."""
    q = question.lower()
    if re.search(r"\b(headline|title)\b", q):
        return "title"
    if re.search(r"\bhow (many|much|old|long|far|tall|high|deep|big|large|wide|heavy|fast)\b", q):
        return "number"
    if re.match(r"\s*(what|which)\b", q) and re.search(_MEASURES, q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (day|date|year|time|century)\b|\bwhich (day|year|century)\b", q):
        return "time"
    if re.search(r"\bwhere\b|\b(which|what) (city|country|place|town|region|state|province|continent)\b", q):
        return "place"
    if re.search(r"\bwho(m|se)?\b", q):
        return "name"
    return "other"


_KIND_PATTERNS = {"number": _NUMBER, "time": _TIME, "place": _PLACE, "name": _NAME}


def type_match(kind: str, sentence: str, is_title: bool = False) -> float:
    """1 when the sentence holds the kind of thing asked for, 0 when not, 0.5 when the kind is open."""
    if kind == "title":
        return 1.0 if is_title else 0.0
    pattern = _KIND_PATTERNS.get(kind)
    if pattern is None:
        return 0.5
    return 1.0 if pattern.search(sentence) else 0.0


def coverage(question_terms: dict[str, float], sentence: str) -> float:
    """Share of the question's IDF weight whose stems occur in the sentence."""
    total = sum(question_terms.values())
    if total <= 0:
        return 0.0
    present = set(tokenize(sentence))
    return sum(w for t, w in question_terms.items() if t in present) / total


def question_weights(reader: IndexView, question: str) -> dict[str, float]:
    """IDF per distinct question stem; stems the corpus never uses weigh as the rarest."""
    stems = dict.fromkeys(tokenize(question))
    idfs = {s: reader.lexical.idf(s) for s in stems}
    rarest = max([v for v in idfs.values() if v > 0], default=1.0)
    return {s: (v if v > 0 else rarest) for s, v in idfs.items()}


def missing_words_removed(question: str, sentence: str) -> str:
    """The question without the content words the sentence lacks (for the ablation signal)."""
    present = set(tokenize(sentence))
    kept = [
        w for w in re.findall(r"\w+|\W+", question) if not (stems := tokenize(w)) or any(s in present for s in stems)
    ]
    return "".join(kept)


def _ends_like_a_sentence(text: str) -> bool:
    return text.rstrip("\"'”’)]»").endswith((".", "!", "?", "…", ":", ";"))


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def number_missing(question: str, passage: str) -> float:
    """1 when the question names a number (a year, a figure) that the passage does not contain."""
    wanted = {n.replace(",", "") for n in _DIGITS.findall(question)}
    if not wanted:
        return 0.0
    present = {n.replace(",", "") for n in _DIGITS.findall(passage)}
    return 0.0 if wanted <= present else 1.0


def unknown_share(reader: IndexView, question: str) -> float:
    """Share of the question's content words that no indexed passage contains."""
    stems = set(tokenize(question))
    if not stems:
        return 0.0
    return sum(1 for s in stems if reader.lexical.idf(s) <= 0) / len(stems)


def support(signals: dict[str, float]) -> float:
    """Probability that the best sentence answers the question (logistic over the signals)."""
    z = SUPPORT_BIAS + sum(w * signals.get(name, 0.0) for name, w in SUPPORT_WEIGHTS.items())
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def candidates(
    reader: IndexView,
    question: str,
    query_vec: np.ndarray,
    hits: list[Hit],
    passages: int,
    context: str = "",
) -> list[Candidate]:
    """Scored sentences from the first `passages` hits, best first.

    `context` (earlier questions of a conversation) adds its words at a lower weight;
    `query_vec` should then embed context and question together.
    """
    import numpy as np

    own = question_weights(reader, question)
    weights = dict(own)
    if context:
        for stem, weight in question_weights(reader, context).items():
            weights.setdefault(stem, CONTEXT_WEIGHT * weight)
    kind = question_kind(question)
    asked = set(weights)
    rows = reader.chunks([h.chunk_id for h in hits[:passages]])
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits[:passages]):
        row = rows[hit.chunk_id]
        _, text = reader.document(row.doc_id)
        sents = reader.sentences(row.sent_lo, row.sent_hi)
        if not sents:
            continue
        first_start = len(text) - len(text.lstrip())  # where the document's first line begins
        vecs = np.asarray(reader.sentence_vectors[sents[0].sentence_id : sents[-1].sentence_id + 1], dtype=np.float32)
        cosines = vecs @ query_vec
        for sent, cos, vec in zip(sents, cosines, vecs, strict=True):
            if (hit.source, sent.start) in seen:
                continue
            seen.add((hit.source, sent.start))
            sentence = text[sent.start : sent.end]
            is_title = sent.start == first_start
            if not _ends_like_a_sentence(sentence):
                if is_title and kind != "title":
                    continue  # a heading names a topic; it answers only questions about the heading itself
                if not set(tokenize(sentence)) - asked:
                    continue  # a fragment made only of the question's own words answers nothing
            cover = coverage(weights, sentence)
            match = type_match(kind, sentence, is_title=is_title)
            score = W_COS * float(cos) + W_COVER * cover + W_RANK / (1 + rank) + W_TYPE * match
            # The abstention signals judge the question itself: words of earlier questions help
            # find and rank the passage, but cannot make an unrelated new question look answered.
            own_cover = cover if not context else coverage(own, sentence)
            out.append(
                Candidate(hit.source, sent.start, sent.end, sentence, rank, float(cos), own_cover, match, score, vec)
            )
    out.sort(key=lambda c: (-c.score, c.passage_rank, c.start))
    return out


def compose(
    question: str,
    hits: list[Hit],
    ranked: list[Candidate],
    top_k: int,
    max_chars: int,
    max_sentences: int,
    threshold: float,
    question_signals: dict[str, float] | None = None,
) -> Answer:
    """Pick the answer sentences, attach citations, or abstain."""
    if not hits or not ranked:
        return Answer(question, None, (), 0.0, {})
    best = ranked[0]
    signals = {
        "cosine": best.cosine,
        "coverage": best.coverage,
        "top_cosine": hits[0].dense,
        "max_cosine": max(c.cosine for c in ranked),
        "max_coverage": max(c.coverage for c in ranked),
        "type_match": best.type_match,
        "passage_rank": float(best.passage_rank),
        "top_lexical": hits[0].lexical,
        "type_mismatch": 1.0 if best.type_match == 0 else 0.0,
        "number_missing": number_missing(question, hits[best.passage_rank].text),
        **(question_signals or {}),
    }
    confidence = support(signals)
    signals["support"] = confidence
    if confidence < threshold:
        return Answer(question, None, (), confidence, signals)
    chosen = [_trim(best, max_chars)]
    used = len(chosen[0].text)
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences or cand.score < SECOND_SENTENCE_RATIO * best.score:
            break
        if used + len(cand.text) + 6 > max_chars:
            continue
        if any(_same_words(cand.text, c.text) for c in chosen):
            continue  # the same sentence again (another copy of a document): say it once
        chosen.append(cand)
        used += len(cand.text) + 6
    citations = [Citation(c.source, c.start, c.end, c.text, c.score) for c in chosen]
    for hit in hits:
        if len(citations) >= top_k:
            break
        if any(c.source == hit.source and hit.start <= c.start < hit.end for c in chosen):
            continue
        citations.append(Citation(hit.source, hit.start, hit.end, hit.text, hit.fused))
    parts = [f"{' '.join(c.text.replace(chr(0xFEFF), '').split())} [{i}]" for i, c in enumerate(chosen, start=1)]
    return Answer(question, " ".join(parts), tuple(citations[: max(top_k, len(chosen))]), confidence, signals)


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _trim(cand: Candidate, max_chars: int) -> Candidate:
    """Cut an over-long sentence at a word boundary; the span still quotes it exactly."""
    limit = max_chars - 6
    if len(cand.text) <= limit:
        return cand
    cut = cand.text.rfind(" ", 0, limit)
    cut = cut if cut > limit // 2 else limit
    text = cand.text[:cut].rstrip()
    return Candidate(
        cand.source, cand.start, cand.start + len(text), text, cand.passage_rank,
        cand.cosine, cand.coverage, cand.type_match, cand.score, cand.vector,
    )  # fmt: skip
