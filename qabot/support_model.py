"""The learned support check: does this candidate sentence state the asked-for fact?

Each of the best few candidate sentences of a question becomes one row of features (how
close it is to the question, whether it holds a span of the expected type, names the
subject, states the asked event, how much of the question its document is about, ...);
a small model fitted offline on the labelled training sets (`scripts/fit_support.py`,
docs/quality.md #55) turns the row into a probability that the sentence answers the
question. The weights ship in `qabot/support_weights.py`; this module only applies them,
with numpy, so no training library is needed at query time.

    rows = feature_matrix(analysis, cands, context)
    p = probabilities(rows)            # one probability per candidate
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .lexical import tokenize
from .question import (
    ANAPHORA,
    DATE_TYPES,
    PLACE_TYPES,
    QuestionAnalysis,
    entity_stems,
    find_spans,
    focus_found,
    is_fragment,
    names_subject,
    near_stem,
    predicate_stems,
    subject_found,
    subject_groups,
)

if TYPE_CHECKING:
    import numpy as np

    from .answer import Candidate


@dataclass(frozen=True, slots=True)
class SupportContext:
    """What the features need to know about the question and its retrieval, beyond one sentence."""

    idf: dict[str, float]  # IDF per question stem
    top_cosine: float  # the first passage's cosine
    max_cosine: float  # the best cosine among the candidates
    top_score: float  # the best candidate's sentence-selection score
    passages: tuple[str, ...]  # text of each retrieved passage, by passage rank
    unknown: float = 0.0  # share of the question's words no passage holds
    predicate_vec: np.ndarray | None = None  # the question without its subject, embedded


RAREST = 2  # the question's rarest words that stand for its subject ("rare_cover")
RULE_DEPTH, RULE_RATIO = 5, 0.6  # the hand check looked at the first 5 sentences scoring >= 0.6 of the best
FAMILIES = ("place", "date", "measure", "name", "count", "money", "percentage", "yesno", "description", "role")

FEATURES = (
    "cosine", "coverage", "cos_gap", "score_ratio", "order", "passage_rank", "top_cosine",
    "subject_ok", "named", "focus_ok", "span_ok", "spans", "predicate_cover", "predicate_cosine",
    "subject_in_title", "subject_in_sentence", "title_cover", "passage_cover", "number_missing",
    "fragment", "words", "unknown", "question_words", "negation",
    *(f"type_{f}" for f in FAMILIES),
    "rule", "first_rule", "subject_focus", "span_new", "personal", "copula_new", "predicate_all",
    "span_subject_distance",
    "rare_cover", "focus_loose", "numeral_missing", "rest_cover",
)  # fmt: skip

# A request to qabot or about the asker ("how do I ...", "can you book me ...", "near me", "my bank"):
# documents state facts, they neither act nor advise, so such a question is refused outright.
REQUEST = re.compile(
    r"^\s*(?:how (?:do|can|should|could|would) (?:i|we)|(?:can|could|would|will) you|should (?:i|we)|"
    r"(?:what|which) (?:should|can) (?:i|we)|is it (?:safe|ok|okay|good|worth))\b|"
    r"^\s*(?:please\s+)?(?:translate|write|book|order|buy|calculate|convert|remind|set|play|show me|find me|give me|"
    r"tell me a)\b|"
    r"\b(?:should (?:i|we)|near me|for me|recommend|my|tomorrow|tonight|last night|right now|this weekend|next week|"
    r"this year|cheapest|(?:has|have|is|are) the best)\b|^\s*(?:what'?s |whats )?(?:the )?best\b",
    re.IGNORECASE,
)  # also tasks ("translate ...", "remind me ...") and the moment of asking ("tomorrow", "last night"), advice
# ("what painkiller should I take") and shopping ("which laptop has the best ...", "best way to ...", "cheapest")
_PERSONAL = re.compile(r"\b(i|me|my|mine|you|your|yours|we|us|our)\b", re.IGNORECASE)
COPULA = re.compile(r"\b(?:is|was|are|were)\s+(?:(?:a|an|the)\s+)?([^,;:()]+?)(?=\s*(?:[,;:(]|\.\s|\.?$|\swho\b|\swhich\b))")  # noqa: E501

_NEGATION = re.compile(r"\b(no|not|never|none|nobody|nothing|neither|nor|unknown|unclear)\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def family(analysis: QuestionAnalysis) -> str:
    """The coarse answer type, with role questions apart from other descriptions."""
    if analysis.answer_type == "description" and analysis.focus == "role":
        return "role"
    if analysis.answer_type in PLACE_TYPES:
        return "place"
    if analysis.answer_type in DATE_TYPES:
        return "date"
    fam = analysis.family
    if fam == "title":
        return "description"
    return fam if fam in FAMILIES else "description"


def weighted_share(idf: dict[str, float], present: set[str]) -> float:
    """Share of the question's IDF weight whose stems are in `present`."""
    total = sum(idf.values())
    if total <= 0:
        return 0.0
    return sum(w for s, w in idf.items() if s in present) / total


def _number_missing(analysis: QuestionAnalysis, passage: str) -> float:
    if not analysis.numbers:
        return 0.0
    present = {n.replace(",", "") for n in _DIGITS.findall(passage)}
    return 0.0 if analysis.numbers <= present else 1.0


def _span_new(analysis: QuestionAnalysis, text: str, spans: list) -> float:
    """The largest share of words new to the question among the spans (0 without spans)."""
    best = 0.0
    for f in spans:
        stems = tokenize(text[f.start : f.end])
        if stems:
            best = max(best, sum(1 for x in stems if x not in analysis.stems) / len(stems))
        elif _DIGITS.search(text[f.start : f.end]):
            best = max(best, 1.0)
    return best


def _span_subject_distance(groups: list[frozenset[str]], text: str, spans: list) -> float:
    """How far (hundreds of characters, at most 2) the nearest span is from the subject's name in the
    sentence: "Iran's foreign minister Javad Zarif" and not "President Trump" for Zarif's job. 2 when
    the sentence does not name the subject (or holds no span). `groups`: `subject_groups` of the question."""
    if not groups or not spans:
        return 2.0
    at = [m.start() for m in re.finditer(r"\w+", text) if set(entity_stems(m.group(0))) & groups[0]]
    if not at:
        return 2.0
    near = min(0 if f.start <= a < f.end else min(abs(a - f.start), abs(a - f.end)) for f in spans for a in at)
    return min(2.0, near / 100.0)


def _rare_cover(analysis: QuestionAnalysis, present: set[str], idf: dict[str, float]) -> float:
    """Share of the question's RAREST rarest content words (words the corpus never uses count as the
    rarest) that the sentence, its title or what its pronouns refer to holds: "how long is the
    karnaphuli river" is not answered by the Lena River's length because "river" is there."""
    stems = sorted(analysis.stems, key=lambda s: (-idf.get(s, 0.0), s))[:RAREST]
    if not stems:
        return 1.0
    return sum(1 for s in stems if near_stem(s, present)) / len(stems)


# Inflections and converse relations the stemmer does not join ("wrote" / "written", "father" / "son").
_RELATED = (
    ("wrote", "written", "write", "writer", "author"), ("sang", "sung", "sing", "singer"),
    ("won", "win", "winner", "award", "receiv"), ("invent", "inventor", "develop", "creat", "devis"),
    ("found", "founder", "establish", "creat"), ("discov", "rediscov", "found", "identifi"),
    ("father", "mother", "parent", "son", "daughter", "child"), ("wife", "husband", "marri", "spous"),
    ("began", "begun", "begin", "start"), ("made", "make", "creat", "produc"), ("built", "build", "construct"),
    ("led", "lead", "leader"), ("taught", "teach", "teacher"), ("met", "meet", "meeting"),
    ("die", "death", "dead", "kill"), ("born", "birth"), ("call", "name", "known", "nicknam"),
    ("talk", "tell", "told", "said", "say", "speak", "spoke", "interview"),
)  # fmt: skip
_RELATED_TO = {w: {x for group in _RELATED if w in group for x in group} for g in _RELATED for w in g}


def _focus_loose(analysis: QuestionAnalysis, context: set[str]) -> float:
    """Share of the asked words (the event, else the predicate) the sentence holds in any form: itself
    (or a typo of it), a word sharing its first five letters, or a related form ("written" for
    "wrote", "son" for "father")."""
    asked = tokenize(analysis.event) if analysis.event else predicate_stems(analysis)
    if not asked:
        return 1.0
    return _loose_share(asked, context)


def _loose_share(asked: Iterable[str], context: set[str]) -> float:
    """Share of `asked` stems the context holds in any form (see `_focus_loose`); 1 when none is asked."""
    asked = list(asked)
    if not asked:
        return 1.0
    prefixes = {w[:5] for w in context if len(w) >= 5}  # a stem shorter than 5 letters is never among them
    hits = 0
    for s in asked:
        related: set[str] = _RELATED_TO.get(s, set())
        if s in context or s[:5] in prefixes or not related.isdisjoint(context) or near_stem(s, context):
            hits += 1
    return hits / len(asked)


def _rest_cover(analysis: QuestionAnalysis, title_stems: set[str], context: set[str]) -> float:
    """Share of the question's words its title does not hold that the sentence holds in any form (its
    stems and its words as written, so "talk" finds "told"): with
    the title standing in for the subject, what is left is what is asked, even in a lower-case question
    ("who commissioned the taj mahal": "commissioned" is in "It was commissioned in 1631 by ...", not in
    "The Taj Mahal is an ivory-white marble mausoleum ..."). 1 when the title holds every word."""
    return _loose_share(sorted(s for s in analysis.stems if not near_stem(s, title_stems)), context)


# A regnal or serial numeral after a name ("Leopold II", "leopold II's", "louis xiv's", "emperor leopold i"):
# two or more letters after any word; a lone "I", "V" or "X" only after a capitalised word, a lone "i"
# only ending the question or before "'s"; the word before must not be an auxiliary or a question word
# ("Should I", "how do i").
_NUMERAL = re.compile(r"\b([A-Za-z]+)\s+([IVX]{1,5}|[ivx]{1,5})\b")
_LONE_I_END = re.compile(r"\s*$|\W*'s\b|[?.,!;:]")
_NOT_NAME = frozenset((
    "am", "are", "be", "can", "could", "did", "do", "does", "had", "has", "have", "how", "if", "is", "may",
    "might", "must", "shall", "should", "so", "was", "were", "what", "when", "where", "which", "who", "whom",
    "why", "will", "would", "and", "or", "then",
))  # fmt: skip
_ROMAN = re.compile(r"\b[IVXivx]+\b")
_WORDS = re.compile(r"[a-z]+").findall  # the sentence's words as written: "told", "said" are no stems


def question_numerals(question: str) -> frozenset[str]:
    """The lower-cased numerals that follow a name in the question ("leopold ii" -> {"ii"})."""
    found = set()
    for m in _NUMERAL.finditer(question):
        word, numeral = m.group(1), m.group(2)
        if word.lower() in _NOT_NAME:
            continue
        if len(numeral) == 1:
            if numeral.isupper() and not word[0].isupper():
                continue
            if numeral.islower() and (numeral != "i" or not _LONE_I_END.match(question, m.end())):
                continue
        found.add(numeral.lower())
    return frozenset(found)


def _numeral_missing(numerals: frozenset[str], title: str, text: str) -> float:
    """1 when the question's numeral after a name is neither in the sentence nor its title: Leopold I's
    wife is not Leopold II's, Louis XVI is not Louis XIV (a namesake standing in for the subject)."""
    if not numerals:
        return 0.0
    return 0.0 if numerals <= {w.lower() for w in _ROMAN.findall(f"{title} {text}")} else 1.0


def _copula_new(analysis: QuestionAnalysis, text: str) -> float:
    """1 when the sentence says what something is ("was a Russian ballet dancer") in words new to the question."""
    m = COPULA.search(text)
    if m is None or len(m.group(1).split()) > 12:
        return 0.0
    return 1.0 if set(tokenize(m.group(1))) - analysis.stems else 0.0


@dataclass(frozen=True, slots=True)
class _Asked:
    """What the features read of the question alone: worked out once for all its candidates."""

    groups: list[frozenset[str]]  # subject_groups
    predicate: list[str]  # predicate_stems
    family: str
    named: bool  # names_subject
    numerals: frozenset[str]  # question_numerals
    personal: bool  # "my", "you", ...

    @classmethod
    def of(cls, analysis: QuestionAnalysis) -> _Asked:
        return cls(
            subject_groups(analysis), predicate_stems(analysis), family(analysis), names_subject(analysis),
            question_numerals(analysis.text), bool(_PERSONAL.search(analysis.text)),
        )  # fmt: skip


def feature_row(
    analysis: QuestionAnalysis, q: _Asked, cand: Candidate, order: int, ctx: SupportContext, earlier_rule: bool
) -> list[float]:
    """The features of one candidate sentence, in the order of FEATURES.

    `q`: the question's own parts (`_Asked.of(analysis)`). `earlier_rule`: a better-ranked candidate
    already passed every hand check (see "first_rule").
    """
    text, title, before = cand.text, cand.title, cand.before
    is_title = title != "" and text.strip() == title
    spans = find_spans(analysis, text, is_title=is_title)
    said = set(tokenize(text))
    context = said | (set(tokenize(before)) if is_fragment(text) else set())
    asked = q.predicate
    predicate_cover = sum(1 for s in asked if near_stem(s, context)) / len(asked) if asked else 1.0
    predicate_cosine = cand.cosine  # a question without a named subject is all predicate
    if ctx.predicate_vec is not None and cand.vector is not None:
        predicate_cosine = float(ctx.predicate_vec @ cand.vector)
    groups = q.groups
    title_stems = set(entity_stems(title)) | set(tokenize(title))
    sentence_stems = set(entity_stems(text)) | said
    in_title = bool(groups) and all(near_stem(s, title_stems) for s in groups[0])
    in_sentence = bool(groups) and all(near_stem(s, sentence_stems) for s in groups[0])
    passage = ctx.passages[cand.passage_rank] if cand.passage_rank < len(ctx.passages) else text
    fam = q.family
    subject_ok = subject_found(analysis, text, title, before, ctx.idf)
    focus_ok = focus_found(analysis, text, before)
    rule = subject_ok and focus_ok and bool(spans)
    score_ratio = cand.score / ctx.top_score if ctx.top_score > 0 else 0.0
    present = sentence_stems | title_stems
    if before and (is_fragment(text) or ANAPHORA.search(text)):
        present |= set(tokenize(before))
    row = [
        cand.cosine,
        cand.coverage,
        ctx.max_cosine - cand.cosine,
        score_ratio,
        float(min(order, 8)),
        float(cand.passage_rank),
        ctx.top_cosine,
        1.0 if subject_ok else 0.0,
        1.0 if q.named else 0.0,
        1.0 if focus_ok else 0.0,
        1.0 if spans else 0.0,
        float(min(len(spans), 4)),
        predicate_cover,
        predicate_cosine,
        1.0 if in_title else 0.0,
        1.0 if in_sentence else 0.0,
        weighted_share(ctx.idf, title_stems),
        weighted_share(ctx.idf, set(tokenize(f"{title} {passage}"))),
        _number_missing(analysis, passage),
        1.0 if is_fragment(text) else 0.0,
        math.log1p(len(text.split())),
        ctx.unknown,
        math.log1p(len(analysis.stems)),
        1.0 if _NEGATION.search(text) else 0.0,
        *(1.0 if fam == f else 0.0 for f in FAMILIES),
        1.0 if rule else 0.0,
        1.0 if rule and not earlier_rule and score_ratio >= RULE_RATIO and order < RULE_DEPTH else 0.0,
        1.0 if subject_ok and focus_ok else 0.0,
        _span_new(analysis, text, spans),
        1.0 if q.personal else 0.0,
        _copula_new(analysis, text),
        1.0 if predicate_cover >= 1.0 else 0.0,
        _span_subject_distance(groups, text, spans),
        _rare_cover(analysis, present, ctx.idf),
        _focus_loose(analysis, context),
        _numeral_missing(q.numerals, title, text),
        _rest_cover(analysis, title_stems, context | set(_WORDS(text.lower()))),
    ]
    return row


def feature_matrix(analysis: QuestionAnalysis, cands: list[Candidate], ctx: SupportContext) -> np.ndarray:
    """One row of FEATURES per candidate."""
    import numpy as np

    rows: list[list[float]] = []
    passed = False
    first = FEATURES.index("first_rule")
    q = _Asked.of(analysis)
    for i, c in enumerate(cands):
        row = feature_row(analysis, q, c, i, ctx, earlier_rule=passed)
        passed = passed or bool(row[first])
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def probabilities(rows: np.ndarray) -> np.ndarray:
    """P(the sentence answers the question) for each row (one question's candidates), from the shipped weights.

    A "listwise" model makes the candidates compete: P(i) = exp(s_i) / (1 + sum_j exp(s_j)), the 1
    standing for "none of them states the answer" (docs/quality.md #63); a "logistic" one judges
    each candidate alone.
    """
    import numpy as np

    from .support_weights import MODEL

    if len(rows) == 0:
        return np.zeros(0)
    names = MODEL["features"]
    if tuple(names) != FEATURES:
        index = [FEATURES.index(n) for n in names]
        rows = rows[:, index]
    mean = np.asarray(MODEL["mean"], dtype=np.float64)
    scale = np.asarray(MODEL["scale"], dtype=np.float64)
    z = (rows - mean) / scale
    if MODEL["kind"] == "listwise":
        score = np.clip(z @ np.asarray(MODEL["coef"], dtype=np.float64) + float(MODEL["intercept"]), -50.0, 50.0)
        top = max(0.0, float(score.max()))
        e = np.exp(score - top)
        return e / (np.exp(-top) + e.sum())
    if MODEL["kind"] == "logistic":
        logit = z @ np.asarray(MODEL["coef"], dtype=np.float64) + float(MODEL["intercept"])
    else:
        logit = _trees(z, MODEL)
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))


def _trees(z: np.ndarray, model: dict) -> np.ndarray:
    """The raw score of a gradient-boosted tree ensemble (arrays exported from scikit-learn)."""
    import numpy as np

    out = np.full(len(z), float(model["intercept"]))
    rate = float(model["learning_rate"])
    for tree in model["trees"]:
        feature, threshold, left, right, value = (tree[k] for k in ("feature", "threshold", "left", "right", "value"))
        for i, row in enumerate(z):
            node = 0
            while left[node] != -1:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            out[i] += rate * value[node]
    return out
