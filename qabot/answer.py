"""Choose the 1-2 sentences that best answer a question, or abstain.

Every candidate sentence comes from the top retrieved passages and is scored on
  - cosine between the question and the sentence (vectors computed at build time),
  - how much of the question's rare words it contains (IDF-weighted coverage),
  - the rank of its passage, and
  - whether it holds the kind of thing asked for (a number for "how many", ...).
The best few are then judged by the learned support check (`support_model.py`): the most
probable statement of the asked-for fact is the answer; when even that is below the threshold,
qabot says "The documents don't say." rather than quote something loosely related
(docs/quality.md #55).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.base import IndexView
from .lexical import tokenize
from .question import (
    QuestionAnalysis,
    analyze,
    find_spans,
    focus_found,
    names_subject,
    subject_found,
)
from .records import Answer, Citation, Hit, ShortAnswer
from .span_model import asked_span, best_span, with_title
from .support_model import COPULA, FEATURES, REQUEST, SupportContext, feature_matrix, probabilities

if TYPE_CHECKING:
    from collections.abc import Callable

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
BEFORE_CHARS = 600  # passage text before a sentence that its pronouns may refer to
TITLE_SPARE = 1  # passages beyond answer_passages that may stand in for title-only chunks
LEARNED_DEPTH = 8  # how many of the best sentences the learned support check scores


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
    title: str = ""  # the first line of the sentence's document
    before: str = ""  # the passage's text before the sentence (what its pronouns may refer to)


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
    rows = reader.chunks([h.chunk_id for h in hits[: passages + TITLE_SPARE]])
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    used = 0
    for rank, hit in enumerate(hits[: passages + TITLE_SPARE]):
        if used >= passages:
            break
        row = rows[hit.chunk_id]
        _, text = reader.document(row.doc_id)
        sents = reader.sentences(row.sent_lo, row.sent_hi)
        if not sents:
            continue
        first_start = len(text) - len(text.lstrip())  # where the document's first line begins
        if kind != "title" and all(
            x.start == first_start and not _ends_like_a_sentence(text[x.start : x.end]) for x in sents
        ):
            continue  # a chunk that is only a title: the next passage takes its place
        used += 1
        title = text[first_start : first_start + 200].split("\n", 1)[0].strip()
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
            before = text[max(row.start, sent.start - BEFORE_CHARS) : sent.start]
            fields = (hit.source, sent.start, sent.end, sentence, rank, float(cos), own_cover, match, score, vec)
            out.append(Candidate(*fields, title, before))
    out.sort(key=lambda c: (-c.score, c.passage_rank, c.start))
    return with_identifiers_only(reader, question, out)


def with_identifiers_only(reader: IndexView, question: str, ranked: list[Candidate]) -> list[Candidate]:
    """When the question names identifiers the documents hold ("WOMBAT22"), only sentences holding
    one can answer it: the line about WOMBAT6 is no answer to a question about WOMBAT22."""
    from .lexical import identifiers

    wanted = {s for s in identifiers(question) if reader.lexical.idf(s) > 0}
    if not wanted:
        return ranked
    holding = [c for c in ranked if wanted & set(tokenize(c.text))]
    return holding or ranked


def predicate_text(analysis: QuestionAnalysis) -> str:
    """The question with the subject's names taken out: what it asks about the subject."""
    text = analysis.text
    for name in analysis.subjects:
        text = text.replace(name, " ")
    return " ".join(text.split())


def predicate_to_embed(analysis: QuestionAnalysis) -> str | None:
    """The text whose vector the support check compares sentences with (the predicate), or None
    when the question names no subject (it is then all predicate: its own vector serves)."""
    if not analysis.subjects:
        return None
    rest = predicate_text(analysis)
    return rest if rest and rest != analysis.text else None


def support_context(
    analysis: QuestionAnalysis,
    hits: list[Hit],
    ranked: list[Candidate],
    idf: dict[str, float],
    unknown: float = 0.0,
    embed: Callable[[str], np.ndarray] | None = None,
) -> SupportContext:
    """What the learned support check needs beyond each sentence (one embedding of the predicate)."""
    rest = predicate_to_embed(analysis) if embed is not None else None
    predicate_vec = embed(rest) if embed is not None and rest else None
    return SupportContext(
        idf=idf,
        top_cosine=hits[0].dense if hits else 0.0,
        max_cosine=max((c.cosine for c in ranked), default=0.0),
        top_score=ranked[0].score if ranked else 0.0,
        passages=tuple(h.text for h in hits),
        unknown=unknown,
        predicate_vec=predicate_vec,
    )


@dataclass(frozen=True, slots=True)
class Supported:
    """A candidate sentence that holds an answer of the expected type about the question's subject."""

    candidate: Candidate
    start: int  # the short answer, as offsets into the candidate's sentence
    end: int


SUBJECT_NAMED, FOCUS, SPAN, SUBJECT_RARE = 1, 2, 4, 8  # the parts of the support check


def support_failure(analysis: QuestionAnalysis, cand: Candidate, idf: dict[str, float]) -> int:
    """The parts of the support check the candidate fails, as a bit mask (0 when it passes)."""
    failed = 0
    if not subject_found(analysis, cand.text, cand.title, cand.before, idf):
        failed |= SUBJECT_NAMED if names_subject(analysis) else SUBJECT_RARE
    if not focus_found(analysis, cand.text, cand.before):
        failed |= FOCUS
    is_title = cand.title != "" and cand.text.strip() == cand.title
    if not find_spans(analysis, cand.text, is_title=is_title):
        failed |= SPAN
    return failed


def compose(
    question: str,
    hits: list[Hit],
    ranked: list[Candidate],
    top_k: int,
    max_chars: int,
    max_sentences: int,
    threshold: float,
    question_signals: dict[str, float] | None = None,
    idf: dict[str, float] | None = None,
    embed: Callable[[str], np.ndarray] | None = None,
    question_vec: np.ndarray | None = None,
    analysis: QuestionAnalysis | None = None,
) -> Answer:
    """Pick the answer sentences, attach citations and the short answer, or abstain.

    The learned support check (`support_model`) gives each of the best LEARNED_DEPTH sentences
    the probability that it states the asked-for fact; the answer is the most probable one,
    or "The documents don't say." when even that is below `threshold`.
    """
    if not hits or not ranked:
        return Answer(question, None, (), 0.0, {})
    analysis = analysis or analyze(question)
    idf = idf or {}
    top = ranked[:LEARNED_DEPTH]
    unknown = (question_signals or {}).get("unknown", 0.0)
    rows = feature_matrix(analysis, top, support_context(analysis, hits, top, idf, unknown, embed))
    probs = probabilities(rows)
    pick = int(probs.argmax())  # the first of equals: the better-ranked sentence
    best = top[pick]
    confidence = float(probs[pick])
    signals = {
        "cosine": best.cosine,
        "coverage": best.coverage,
        "top_cosine": hits[0].dense,
        "max_cosine": max(c.cosine for c in ranked),
        "type_match": best.type_match,
        "passage_rank": float(best.passage_rank),
        "number_missing": number_missing(question, hits[best.passage_rank].text),
        "supported": rows[pick][FEATURES.index("rule")],
        "support_rank": float(pick),
        "support_failure": float(support_failure(analysis, best, idf)),
        **(question_signals or {}),
        "support": confidence,
    }
    if REQUEST.search(question) and not request_covered(question, best, hits[best.passage_rank].text):
        signals["request"] = 1.0  # "how do I ...?", "can you ...?": nothing a document states answers it
        return Answer(question, None, (), confidence, signals)
    if confidence < threshold:
        return Answer(question, None, (), confidence, signals)
    found = short_span(analysis, best)
    chosen = [_trim(best, max_chars)]
    used = len(chosen[0].text)
    # then the next most probable statements of the fact, as long as they reach the threshold too
    more = [top[i] for i in sorted(range(len(top)), key=lambda i: (-probs[i], i)) if probs[i] >= threshold]
    more += [c for c in ranked if c.score >= SECOND_SENTENCE_RATIO * ranked[0].score]  # else the closest ones
    for cand in more:
        if cand is best:
            continue
        if len(chosen) >= max_sentences:
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
    short = _short_answer(found, chosen[0])
    cited = tuple(citations[: max(top_k, len(chosen))])
    return Answer(question, " ".join(parts), cited, confidence, signals, short_answer=short)


_READER = re.compile(r"\b(?:you|your|yours)\b", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\W*\w+")


def request_covered(question: str, best: Candidate, passage: str) -> bool:
    """Whether a request-shaped question ("how do I ...", "my ...", "... tonight") is still one the
    documents answer: its passage (with its document's title) holds every content word the
    question has besides the request's own words, and either speaks to its reader ("you", "your":
    a help page) or holds the request's words as its own (a title such as "My Fair Lady").
    "How do I reset my password?" over a help page that says how to reset your password, or "Who
    starred in My Fair Lady?" over the film's article, are answered; "how do I fix a flat bike
    tire" over an article about bicycles, or "what should I name my betta fish" over one about
    bettas, are not."""
    text = f"{best.title}\n{passage}"
    asked = set(tokenize(REQUEST.sub(" ", question)))
    if not asked or not asked <= set(tokenize(text)):
        return False
    if _READER.search(text):
        return True
    lowered = " ".join(text.lower().split())
    for match in REQUEST.finditer(question):
        following = _NEXT_WORD.match(question, match.end())
        phrase = " ".join((match.group(0) + (following.group(0) if following else "")).lower().split())
        if phrase not in lowered:
            return False
    return True


def short_span(analysis: QuestionAnalysis, cand: Candidate) -> Supported:
    """The answer sentence with its short answer: the best span of the expected type, else what the
    sentence says something is ("a Russian ballet dancer"), else the whole sentence."""
    is_title = cand.title != "" and cand.text.strip() == cand.title
    spans = find_spans(analysis, cand.text, is_title=is_title)
    analysis = with_title(analysis, cand.title)
    if asked := asked_span(analysis, cand.text, spans):
        return Supported(cand, *asked)  # another name, "which number", "known for", a number asked as a description
    if spans:
        start, end = best_span(analysis, cand.text, spans)
        return Supported(cand, start, end)
    m = COPULA.search(cand.text)
    if m is not None and len(m.group(1).split()) <= 12 and set(tokenize(m.group(1))) - analysis.stems:
        return Supported(cand, m.start(1), m.end(1))
    return Supported(cand, 0, len(cand.text.rstrip()))


def _short_answer(found: Supported, shown: Candidate) -> ShortAnswer | None:
    """The span as offsets into the source; None when trimming the sentence cut it off."""
    cand = found.candidate
    start, end = cand.start + found.start, cand.start + found.end
    if end > shown.end:
        return None
    return ShortAnswer(cand.text[found.start : found.end], cand.source, start, end)


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
            cand.cosine, cand.coverage, cand.type_match, cand.score, cand.vector, cand.title, cand.before,
    )  # fmt: skip
