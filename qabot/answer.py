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

from .lexical import tokenize
from .reader import IndexReader
from .records import Answer, Citation, Hit

if TYPE_CHECKING:
    import numpy as np

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundreds?|thousands?|millions?)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(\d{3,4}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|morning|evening|night|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"yesterday|today|week|year|century|ago|last|later)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")

# Sentence ranking weights (tuned on the development sets; docs/quality.md).
W_COS, W_COVER, W_RANK, W_TYPE = 0.45, 0.40, 0.10, 0.10
SECOND_SENTENCE_RATIO = 0.80
CONTEXT_WEIGHT = 0.3  # weight of earlier questions' words in a follow-up
# Abstention model: logistic over (best sentence cosine, its coverage, top passage cosine).
SUPPORT_BIAS, SUPPORT_W_COS, SUPPORT_W_COVER, SUPPORT_W_TOP = -6.0, 6.0, 4.0, 2.0


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


def question_kind(question: str) -> str:
    q = question.lower()
    if re.search(r"\bhow (many|much)\b|\bwhat (number|percentage|amount)\b|\bcount\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (day|date|year|time)\b", q):
        return "time"
    if re.search(r"\bwho(m|se)?\b", q):
        return "name"
    return "other"


def type_match(kind: str, sentence: str) -> float:
    if kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind == "time":
        return 1.0 if _TIME.search(sentence) else 0.0
    if kind == "name":
        return 1.0 if _NAME.search(sentence) else 0.0
    return 0.0


def coverage(question_terms: dict[str, float], sentence: str) -> float:
    """Share of the question's IDF weight whose stems occur in the sentence."""
    total = sum(question_terms.values())
    if total <= 0:
        return 0.0
    present = set(tokenize(sentence))
    return sum(w for t, w in question_terms.items() if t in present) / total


def question_weights(reader: IndexReader, question: str) -> dict[str, float]:
    """IDF per distinct question stem; stems the corpus never uses weigh as the rarest."""
    stems = dict.fromkeys(tokenize(question))
    idfs = {s: reader.lexical.idf(s) for s in stems}
    rarest = max([v for v in idfs.values() if v > 0], default=1.0)
    return {s: (v if v > 0 else rarest) for s, v in idfs.items()}


def support(best: Candidate, top_cosine: float) -> float:
    z = SUPPORT_BIAS + SUPPORT_W_COS * best.cosine + SUPPORT_W_COVER * best.coverage + SUPPORT_W_TOP * top_cosine
    return 1.0 / (1.0 + math.exp(-z))


def candidates(
    reader: IndexReader,
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

    weights = question_weights(reader, question)
    if context:
        for stem, weight in question_weights(reader, context).items():
            weights.setdefault(stem, CONTEXT_WEIGHT * weight)
    kind = question_kind(question)
    rows = reader.chunks([h.chunk_id for h in hits[:passages]])
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits[:passages]):
        row = rows[hit.chunk_id]
        _, text = reader.document(row.doc_id)
        sents = reader.sentences(row.sent_lo, row.sent_hi)
        if not sents:
            continue
        vecs = np.asarray(reader.sentence_vectors[sents[0].sentence_id : sents[-1].sentence_id + 1], dtype=np.float32)
        cosines = vecs @ query_vec
        for sent, cos in zip(sents, cosines, strict=True):
            if (hit.source, sent.start) in seen:
                continue
            seen.add((hit.source, sent.start))
            sentence = text[sent.start : sent.end]
            cover = coverage(weights, sentence)
            match = type_match(kind, sentence)
            score = W_COS * float(cos) + W_COVER * cover + W_RANK / (1 + rank) + W_TYPE * match
            out.append(Candidate(hit.source, sent.start, sent.end, sentence, rank, float(cos), cover, match, score))
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
) -> Answer:
    """Pick the answer sentences, attach citations, or abstain."""
    if not hits or not ranked:
        return Answer(question, None, (), 0.0, {})
    best = ranked[0]
    confidence = support(best, hits[0].dense)
    signals = {
        "cosine": best.cosine,
        "coverage": best.coverage,
        "top_cosine": hits[0].dense,
        "type_match": best.type_match,
        "support": confidence,
    }
    if confidence < threshold:
        return Answer(question, None, (), confidence, signals)
    chosen = [_trim(best, max_chars)]
    used = len(chosen[0].text)
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences or cand.score < SECOND_SENTENCE_RATIO * best.score:
            break
        if used + len(cand.text) + 6 > max_chars:
            continue
        chosen.append(cand)
        used += len(cand.text) + 6
    citations = [Citation(c.source, c.start, c.end, c.text, c.score) for c in chosen]
    for hit in hits:
        if len(citations) >= top_k:
            break
        if any(c.source == hit.source and hit.start <= c.start < hit.end for c in chosen):
            continue
        citations.append(Citation(hit.source, hit.start, hit.end, hit.text, hit.fused))
    parts = [f"{' '.join(c.text.split())} [{i}]" for i, c in enumerate(chosen, start=1)]
    return Answer(question, " ".join(parts), tuple(citations[: max(top_k, len(chosen))]), confidence, signals)


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
        cand.cosine, cand.coverage, cand.type_match, cand.score,
    )  # fmt: skip
