"""Which span of an answer sentence is the short answer.

The support check finds every span of the expected type in a sentence (`question.find_spans`);
this module widens each to what a reader would quote ("foreign minister" for "minister", a year
range, "Ming dynasty" for "which dynasty") and ranks them: by a small logistic model over span
features fitted offline (`scripts/fit_support.py`, weights in `qabot/support_weights.py` as
SPAN_MODEL), or, without one, by the hand preference below: in the clause that says what the
question asks, near the question's words, person-like for "who". Some questions ask for a shape
no answer type has (another name, "which number president", what someone is known for, a number
asked as a description); `asked_span` finds those first.

Nothing here decides whether a sentence answers: only which part of it is quoted.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from functools import lru_cache

from .lazy_re import lazy_compile
from .lexical import tokenize
from .question import ROLE_WORDS as _ROLE_WORDS
from .question import Found, QuestionAnalysis, entity_stems, near_stem, subject_groups

_PREP_BEFORE = lazy_compile(r"\b(in|at|on|from|to|into|near|of)\s+(the\s+)?$", re.IGNORECASE)

# ---- clauses -----------------------------------------------------------------------------------

# Where one clause of a sentence ends: punctuation, a sentence end, or a word joining two statements
# ("began in 1789 and ended in 1799", "from 49 BC until his assassination in 44 BC"). A dash between
# digits ("1098–1150") is a range, not a break.
_CLAUSE_BREAK = lazy_compile(
    r"[;:()\[\]—]|,[\"”’]?\s|\.[\"”’]?\s|\s[–-]\s|\b(?:and|but|while|whereas|until|till|though|although)\b"
)


def _clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause around a span: from the last break before it to the first break after it. A clause
    that is only the span ("On 29 May 1885, ... the king announced", "whose patriarch, José Arcadio
    Buendía, founded") is read with the next two clauses, which say what the span is about."""
    sentence = _ACRONYM_BRACKETS.sub(lambda m: f" {m.group(1)} ", sentence)  # "(CDU)" names what stands before
    breaks = [m for m in _CLAUSE_BREAK.finditer(sentence, 0, start)]
    left = breaks[-1].end() if breaks else 0
    if breaks and breaks[-1].group(0) == "(":
        left = breaks[-2].end() if len(breaks) > 1 else 0  # "Lady Chatterley's Lover (1928)": what the bracket is about
    right = end
    name = sentence[start : start + 1].isupper() and not re.search(r"\d", sentence[start:end])
    for i, m in enumerate(_CLAUSE_BREAK.finditer(sentence, end)):
        right = m.start()
        if i == 0 and tokenize(f"{sentence[left:start]} {sentence[end:right]}"):
            if name and (apposition := _APPOSITION.match(sentence, right)):
                return left, apposition.end()  # "forcing Emperor Gong, the last Later Zhou ruler, to abdicate"
            return left, right
        if i == 0 and name and breaks and breaks[-1].group(0).startswith(","):
            # "Iran’s top nuclear negotiator and ..., Saeed Jalili, mirrored": the words before say what it names
            left = breaks[-3].end() if len(breaks) >= 3 else 0
        if i == 2:
            return left, right
    return left, len(sentence)


_ACRONYM_BRACKETS = lazy_compile(r"\(([A-Z][A-Za-z.&]{1,9})\)")
_APPOSITION = lazy_compile(r",\s+(?:the|a|an)\s+[^,;:()]{1,60}?(?=,|;|\.\s|\.?$)")


def _own_clause_end(sentence: str, end: int) -> int:
    """Where the span's own clause ends (the first break after it)."""
    m = _CLAUSE_BREAK.search(sentence, end)
    return m.start() if m else len(sentence)


def _near_stems(analysis: QuestionAnalysis) -> frozenset[str]:
    """The question's words an answer span should stand next to: what it asks about its subject, and the
    names beside the main subject ("when did Ponce de León reach **Florida**"); for a role, the person."""
    if analysis.focus == "role" and analysis.subject_stems:
        return frozenset().union(*analysis.subject_stems)  # the role next to the person's name
    groups = subject_groups(analysis)
    near = _asked(analysis).union(*groups[1:]) if len(groups) > 1 else _asked(analysis)
    if not near and groups:
        return groups[0]  # "Who is Iran's Supreme Leader?": the name next to the title
    return near


@lru_cache(maxsize=1024)
def _asked(analysis: QuestionAnalysis) -> frozenset[str]:
    """The question's words about its subject (`predicate`), without a spelling of the subject's own name
    ("León" of "Ponce de León") and without the noun a "which X" question asks for (ranked on its own)."""
    names = frozenset().union(*analysis.subject_stems) if analysis.subject_stems else frozenset()
    kept = {s for s in analysis.predicate if not set(entity_stems(s)) <= names or not entity_stems(s)}
    return frozenset(kept) - _focus_nouns(analysis)


# Words that state the same event ("when did Stanford die?" - "until his death in 1893").
_SAME_EVENT = [
    frozenset(tokenize(words))
    for words in (
        "die died death dead killed executed assassinated murdered",
        "born birth",
        "found founded establish established form formed create created",
        "build built construct constructed complete completed finish finished",
        "end ended finish finished conclude concluded",
        "begin began start started",
        "hold held serve served",
    )
]


@lru_cache(maxsize=4096)
def _forms(stem: str) -> frozenset[str]:
    """The stem and the stems of words stating the same event."""
    return frozenset({stem}).union(*(group for group in _SAME_EVENT if stem in group))


def _said(stem: str, said: set[str]) -> bool:
    """Is the stem, a typo of it, a longer or shorter form of it ("adult", "adulthood") or a word for the
    same event among the words said?"""
    for form in _forms(stem):
        if near_stem(form, said):
            return True
        if len(form) >= 5 and any(len(w) >= 5 and (w.startswith(form) or form.startswith(w)) for w in said):
            return True
    return False


def with_title(analysis: QuestionAnalysis, title: str) -> QuestionAnalysis:
    """The analysis for a sentence of the document titled `title`: a lower-case question's words that
    name the document ("who starred in the birth of a nation" over "The Birth of a Nation") are its
    subject, not what it asks, so they do not pull the short answer towards them."""
    named = set(tokenize(title))
    if not named or not analysis.predicate & named or analysis.predicate <= named:
        return analysis
    return replace(analysis, predicate=analysis.predicate - named)


def _clause_share(
    analysis: QuestionAnalysis, sentence: str, start: int, end: int, others: tuple[tuple[int, int], ...] = ()
) -> float:
    """How much of what the question asks the span's clause holds besides the span: each of the
    question's words about its subject counts 1 (a typo or another form of it too: "overthrown" is
    "overthrow"), each other name it gives ("Florida", "a Grammy") 0.5."""
    left, right = _clause(sentence, start, end)
    chars = list(sentence[left:right])
    for a, b in ((start, end), *others):  # the span itself and the other candidates ("251.9 million years ago")
        for i in range(max(a, left), min(b, right)):
            chars[i - left] = " "
    said = set(tokenize("".join(chars)))
    if not said:
        return 0.0
    if analysis.focus == "role":  # the person's name, and what the question asks beside ("hold from 1821")
        person = 1.0 if any(_said(s, said) for s in _near_stems(analysis)) else 0.0
        return person + sum(1 for s in _asked(analysis) - _near_stems(analysis) if _said(s, said))
    groups = subject_groups(analysis)
    share = sum(1 for s in _asked(analysis) if _said(s, said)) + 0.5 * sum(1 for g in groups[1:] if g & said)
    main = groups[0] if groups else frozenset()  # the subject itself: what a list item is about
    return share + (0.25 * len(main & said) / len(main) if main else 0.0)


def _distance(sentence: str, start: int, end: int, stems: frozenset[str] | set[str], left: int = 0) -> float:
    """Characters between the span and the nearest word outside it (from `left` on) with one of `stems`
    (or a typo or another form of one), capped at 200."""
    if not stems:
        return 200.0
    gaps = []
    for m in re.finditer(r"\w+", sentence[left:]):
        at, to = m.start() + left, m.end() + left
        if start <= at < end:
            continue
        words = set(tokenize(m.group(0)))
        if words and any(_said(s, words) for s in stems):
            gaps.append(start - to if to <= start else at - end)
    return float(min(200, max(0, min(gaps)))) if gaps else 200.0


# ---- what the question asks for beyond its answer type -------------------------------------------

_ASKS_ALIAS = lazy_compile(
    r"\b(?:nick ?names?|nicknamed|(?:an)?other names?|also (?:called|known)|known as|courtesy name|pen name|"
    r"real name|birth name|stage name|go(?:es)? by|went by|(?:once|also|originally|formerly) called|called|"
    r"(?:latin|greek|english|arabic|chinese|japanese|native|original|full|official|common|scientific|maiden|personal|"
    r"former|old|older|previous|earlier|given|true|proper|family) "
    r"name|epithet|another word for|historically called|called in)\b",
    re.IGNORECASE,
)
_ALIAS = lazy_compile(
    r"\b(?:nicknamed|(?:also |better |commonly |popularly |sometimes |often )?known(?: [\w-]+){0,3} as|also called|"
    r"(?:once |originally |formerly |informally )?called|courtesy name|pen name|real name|birth name|stage name|"
    r"personal name|(?:given )?the epithet|(?:historically|formerly|originally)(?!\s+(?:known|called|named)\b)|"
    r"by (?:his|her|the|their) (?:title|name)|known by (?:the|his|her|its) (?:\w+ )?(?:name|variant|title)|a\.k\.a\.?)"
    r"\s*,?\s+(?:“([^”]{1,60})”|\"([^\"]{1,60})\"|‘([^’]{1,60})’|((?:(?:a|an|the)\s+)?[\w’'-]+(?:\s+[\w’'-]+){0,5}?)"
    r"(?=\s*(?:[,;:.()]|\s(?:is|was|are|were|who|which|in|by|from|after|for)\b|$)))",
    re.IGNORECASE,
)
# The name a sentence opens with, before it gives another ("Marion Robert Morrison, known professionally as").
_LEADING_NAME = lazy_compile(
    r"^\W*((?:[A-Z][\w’'.-]*)(?:\s+(?:(?:of|de|di|da|von|van|al|bin|ibn)\s+)?[A-Z][\w’'.-]*){0,5}),\s*(?:[a-z]+\s+){0,2}$"
)
_ASKS_ORDINAL = lazy_compile(r"\b(?:what|which) number\b|\bwhich in (?:line|order)\b", re.IGNORECASE)
_ORDINAL = lazy_compile(
    r"\b(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|fortieth|"
    r"(?:twenty|thirty|forty)-(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))\b",
    re.IGNORECASE,
)
_ASKS_KNOWN_FOR = lazy_compile(
    r"\b(?:known|famous|remembered|noted|renowned|celebrated)\s+for\b|\bbest known\b", re.IGNORECASE
)
_KNOWN_FOR = lazy_compile(
    r"\b(?:(?:best |most |widely |well |mainly )?(?:known|famous|remembered|noted|renowned|celebrated)\s+(?:for|as)"
    r"(?:\s+(?:being|creating|writing|inventing|developing|founding|discovering|his|her|their))?"
    r"|(?:inventor|creator|founder|father|mother|author|discoverer|developer|originator|pioneer) of)"
    r"\s+((?:the\s+)?[^,;:.()]{3,80}?)(?=\s*(?:[,;:.()]|\sand the\b|\swho\b|\swhich\b|$))"
)
# A question asked as a description whose answer is a number: "what's the area of the Sahara?",
# "what is the atomic number of gold?" (stems, as `tokenize` gives them).
# "What did Trump tweet?", "what did the minister say about the attack", "what was written on the sign":
# the words quoted after the asked verb.
_ASKS_WORDS = lazy_compile(
    r"^\W*what\s+(?:did|does|do|has|have|had|was|is|were|are)\b.*\b(?:say|said|says|tweet|tweeted|tweets|write|"
    r"wrote|written|writes|tell|told|tells|announce|announced|declare|declared|post|posted|shout|shouted|reply|"
    r"replied|respond|responded)"  # the verb ends the question but for when, where or to whom
    r"(?:\s+(?:after|on|in|about|to|at|during|following|when|before|last|this|that|yesterday|today)\b[^?]*)?\W*$",
    re.IGNORECASE,
)
_QUOTED = lazy_compile(r"[“\"]([^“”\"]{2,200}?)[”\"]")
_QUANTITY_STEMS = frozenset(
    tokenize(
        "number value area altitude elevation population basin height length depth size speed temperature weight "
        "mass distance rate total volume density capacity diameter radius width"
    )
)
_NOT_UNIT = r"(?!(?:in|on|at|and|or|of|the|by|to|for|from|with|as|was|is|are|were|when|after|before|that|which)\b)"
_AMOUNT = lazy_compile(
    rf"(?<![\w.,])(?:[$€£¥]\s?|[−-])?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|trillion|thousand))?"
    rf"(?:\s?(?:%|°\s?[CFK]|(?:square |cubic )?{_NOT_UNIT}[A-Za-z]+[²³23]?\b))?"
)


def _alias(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What was Charlie Parker's nickname?" - "nicknamed "Bird""; "what is al-Razi also called?" -
    "also known as Rhazes": the first name the sentence gives that way and the question does not."""
    for m in _ALIAS.finditer(sentence):
        group = next(i for i in range(1, 5) if m.group(i) is not None)
        start, end = m.span(group)
        text = m.group(group)
        if not text.strip():
            continue
        if not set(tokenize(text)) - analysis.stems:
            # the other name is the question's own: the answer is the name the sentence opens with
            leading = _LEADING_NAME.match(sentence[: m.start()])
            if leading and set(tokenize(leading.group(1))) - analysis.stems:
                return leading.span(1)
            continue
        if group == 4 and (lead := re.match(r"(?:a|an|the)\s+", text)) and not text.lower().startswith("the "):
            start += lead.end()
        return start, end
    return None


def _quoted(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What did Trump tweet?" - "tweeted “All is well!”": the first quotation whose words are not
    all the question's own (without its quotation marks)."""
    for m in _QUOTED.finditer(sentence):
        if set(tokenize(m.group(1))) - analysis.stems:
            start, end = m.span(1)
            while end > start and sentence[end - 1] in ",;: ":  # "solid intelligence," - the comma is the sentence's
                end -= 1
            return start, end
    return None


def _ordinal(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"Which number president was Franklin Roosevelt?" - "the 32nd president": the ordinal next to a
    word of the question."""
    for m in _ORDINAL.finditer(sentence):
        following = set(tokenize(sentence[m.end() : m.end() + 30])[:2])
        if any(near_stem(s, following) for s in analysis.predicate):
            return m.span()
    return None


def _known_for(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What is Gaspard Monge known for?" - "the inventor of descriptive geometry"."""
    for m in _KNOWN_FOR.finditer(sentence):
        if set(tokenize(m.group(1))) - analysis.stems:
            return m.span(1)
    return None


def _amount(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """A number for a question that asks one as a description ("what's the area of the Sahara?"): the
    first after the asked word ("an area of 9,200,000 square kilometres"), else the first at all."""
    amounts = [m for m in _AMOUNT.finditer(sentence) if not re.fullmatch(r"(?:1\d|20)\d\d", m.group(0))]
    if not amounts:
        return None
    asked = [
        w.end()
        for w in re.finditer(r"\w+", sentence)
        if any(near_stem(s, set(tokenize(w.group(0)))) for s in analysis.predicate & _QUANTITY_STEMS)
    ]
    chosen = amounts[0]
    for at in asked:
        after = [m for m in amounts if 0 <= m.start() - at <= 40]
        if after:
            chosen = after[0]
            break
    return _with_range(sentence, *chosen.span(), "amount")


_ASKS_THE = lazy_compile(r"\s*(?:what|which)(?:'s|’s| is| was| are| were)\s+(?:the|its|his|her|their)\b", re.IGNORECASE)
_ENDS_IN_PREPOSITION = lazy_compile(
    r"\b([a-z]{3,})\s+(with|after|by|from|of|for|as|into|onto|on|in|to)\s*\??\s*$", re.IGNORECASE
)


def _named_by_noun(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What is the biggest tributary of the Columbia?" - "its largest tributary is the Snake River";
    "what is the administrative centre of Vojvodina?" - "its administrative centre, Novi Sad,": the name
    the sentence gives right after a noun of the question."""
    for m in _NAMED_AFTER.finditer(sentence):
        words = set(tokenize(m.group(1)))
        if any(_said(s, words) for s in _asked(analysis)) and set(tokenize(m.group(2))) - analysis.stems:
            return m.span(2)
    return None


_NAMED_AFTER = lazy_compile(
    r"\b([a-z]{4,})(?:,\s+|\s+(?:is|was|are|were)\s+(?:the\s+)?)"
    r"([A-Z][\w’'-]*(?:\s+(?:(?:of|de|di|da|del|la|le|von|van|al)\s+)?[A-Z][\w’'-]*)*)"
)


def _after_verb(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What is sushi rice seasoned with?" - "seasoned with sugar and salt": what follows the question's
    last verb and its preposition in the sentence."""
    asked = _ENDS_IN_PREPOSITION.search(analysis.text)
    if asked is None or not (verb := tokenize(asked.group(1))):
        return None
    for m in re.finditer(rf"\b(\w+)\s+{asked.group(2)}\s+([^,;:.()]+)", sentence, re.IGNORECASE):
        if _said(verb[0], set(tokenize(m.group(1)))) and set(tokenize(m.group(2))) - analysis.stems:
            return m.span(2)
    return None


_AMOUNT_LEAD = lazy_compile(
    r"\s*,?\s+((?:of|is|was|are|were|at|exceeding|totall?ing|reaching)\s+)?"
    r"((?:about|around|approximately|nearly|almost|over|under|above|below|some|(?:more|less|fewer) than|up to)\s+)?"
    r"(?=[$€£¥−-]?\d)"
)


def _amount_after_asked(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What is the market capitalization of the NYSE?" - "by market capitalization, exceeding $44
    trillion"; "what is the electric charge of a muon?" - "an electric charge of −1 e": a number right
    after the noun the question asks about (a description question's amount with no stock noun)."""
    asked = _asked(analysis)
    if not asked:
        return None
    for w in re.finditer(r"\w+", sentence):
        if not any(_said(s, set(tokenize(w.group(0)))) for s in asked):
            continue
        lead = _AMOUNT_LEAD.match(sentence, w.end())
        m = _AMOUNT.match(sentence, lead.end()) if lead else None
        if lead is None or m is None or re.fullmatch(r"(?:1\d|20)\d\d", m.group(0)):
            continue
        if re.match(r"\s?[°′″'\"]", sentence[m.end() :]):
            continue  # "168° 58′ 37″ W": a coordinate, not an amount
        start, end = _with_range(sentence, *m.span(), "amount")
        if lead.group(2):
            start = lead.start(2)  # "more than 2%"
        if lead.group(1) and lead.group(1).startswith("of"):
            start = w.start()  # "a spin of 1", "an electric charge of −1 e": the asked noun's words too
            while (prev := re.search(r"(\w+)\s+$", sentence[:start])) and any(
                _said(s, set(tokenize(prev.group(1)))) for s in asked
            ):
                start = prev.start(1)
        return start, end
    return None


# Kin and succession: the question's relation noun, and how a sentence names the one related.
# "who was Roger II's father?" - "son of Roger I of Sicily"; "John Wesley's brother" - "John's
# brother Charles Wesley"; "who did Stephen marry?" - "married Gisela of Bavaria".
_NAME_START = r"[A-Z]"
_CHILD_OF = r"(?:sons?|daughters?|child|children|heirs?)\s+of"
_RELATION_CUES = {
    stem: lazy_compile(rf"\b(?:{cue})(?:,)?\s+(?:(?:the|his|her|their)\s+)?(?={_NAME_START})", re.IGNORECASE)
    for stem, cue in (
        ("father", rf"{_CHILD_OF}|father"), ("mother", rf"{_CHILD_OF}|mother"),
        ("parent", rf"{_CHILD_OF}|parents"), ("son", r"sons?(?!\s+of)"), ("daughter", r"daughters?(?!\s+of)"),
        ("brother", r"brothers?"), ("sister", r"sisters?"), ("wife", r"wife|married(?:\s+to)?"),
        ("husband", r"husband|married(?:\s+to)?"), ("marri", r"wife|husband|spouse|married(?:\s+to)?"),
        ("spous", r"wife|husband|spouse|married(?:\s+to)?"),
        ("successor", r"successor|succeeded by"), ("predecessor", r"predecessor|succeeded"),
    )
}  # fmt: skip
_KIN_NAME = lazy_compile(
    r"[A-Z][\w’'.-]*(?:\s+(?:(?:of|de|di|da|von|van|the|and|bin|ibn)\s+)?(?:[A-Z][\w’'.-]*|[IVX]+\b))*"
)


def _relation(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """The person the sentence names by the relation the question asks for ("father", "brother", "wife"),
    not one the question names itself."""
    asked_words = set(re.findall(r"\w+", re.sub(r"[’']s\b", "", analysis.text.lower())))
    for stem in sorted(analysis.predicate & _RELATION_CUES.keys()):
        for cue in _RELATION_CUES[stem].finditer(sentence):
            name = _KIN_NAME.match(sentence, cue.end())
            if name is None:
                continue
            text = name.group(0).rstrip(".")
            if set(re.findall(r"\w+", re.sub(r"[’']s\b", "", text.lower()))) - asked_words:
                return name.start(), name.start() + len(text)
    return None


def _named_focus(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"Which Indian state is Kaziranga in?" - "the Indian state of Assam"; "capital of which Nigerian
    state?" - "Oyo State": the name a sentence gives with the noun a "which X" question asks for."""
    if not analysis.focus or analysis.focus == analysis.event or " " in analysis.focus:
        return None
    noun = re.escape(analysis.focus)
    for m in re.finditer(rf"\b(?i:{noun})s?\s+of\s+(?:the\s+)?({_KIN_NAME.pattern})", sentence):
        if set(tokenize(m.group(1))) - analysis.stems:
            start = m.start() if m.group(0)[:1].isupper() else m.start(1)  # "University of Manchester"
            return start, m.start(1) + len(m.group(1).rstrip("."))
    title = noun[:1].upper() + noun[1:]
    for m in re.finditer(rf"((?:[A-Z][\w’'-]*\s+)+){title}\b", sentence):
        if set(tokenize(m.group(1))) - analysis.stems and m.start() > 0:
            return m.span()
    return None


_ASKS_EXPANSION = lazy_compile(r"\bwhat (?:does|did|do) (?:the )?([A-Za-z][A-Za-z.&]{1,9}) stand for\b", re.IGNORECASE)


def _expansion(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What does CVD stand for?" - "color vision deficiency (CVD)": the words before the acronym in
    brackets, one a letter, or the name the acronym follows ("CVD, color vision deficiency")."""
    asked = _ASKS_EXPANSION.search(analysis.text)
    if asked is None:
        return None
    letters = len(re.sub(r"[^A-Za-z]", "", asked.group(1)))
    acronym = re.escape(asked.group(1))
    m = re.search(rf"((?:[\w’'-]+\s+){{1,{letters + 2}}})\({acronym}\)", sentence, re.IGNORECASE)
    if m is None:
        return None
    words = m.group(1).split()
    initials = asked.group(1).replace(".", "").lower()
    for n in range(len(words), 0, -1):  # the longest run of words whose initials spell the acronym
        run = words[-n:]
        if run[0].lower() in _FUNCTION_WORDS:
            continue  # "or color vision deficiency": the run starts at a word of its own
        capitals = "".join(w[0] for w in run if w[:1].isupper() or w.lower() not in _FUNCTION_WORDS).lower()
        if capitals == initials:
            start = m.start(1) + len(" ".join(words[:-n])) + (1 if len(words) > n else 0)
            return start, m.start(1) + len(m.group(1).rstrip())
    return None


_OR_NAME = lazy_compile(
    r"^\W*(?:(?:a|an|the)\s+)?([\w’'-]+(?:\s+[\w’'-]+){0,2}?)\s+or\s+([\w’'-]+(?:\s+[\w’'-]+){0,3}?)"
    r"(?=\s*(?:,|\(|\s(?:is|are|was|were|has|have)\b))"
)


def _or_name(analysis: QuestionAnalysis, sentence: str) -> tuple[int, int] | None:
    """"What's another word for a triangle?" - "A triangle or trigon is a polygon": the other name a
    sentence opens with after "or"."""
    m = _OR_NAME.match(sentence)
    if m is None or not set(tokenize(m.group(1))) <= analysis.stems or not set(tokenize(m.group(2))) - analysis.stems:
        return None
    return m.span(2)


def asked_span(analysis: QuestionAnalysis, sentence: str, spans: list[Found]) -> tuple[int, int] | None:
    """The short answer when the question asks for a shape its answer type does not give: another name,
    an ordinal, what someone is known for, a number asked as a description or of no unit the rules know
    ("the exact speed of light": "299792458 m⋅s−1"). None when the sentence has no such span."""
    text = analysis.text
    if analysis.answer_type == "description" and _ASKS_WORDS.search(text) and (found := _quoted(analysis, sentence)):
        return found
    alias = _ASKS_ALIAS.search(text) and analysis.family in {"description", "name", "place", "country"}
    if alias and (found := _alias(analysis, sentence) or _or_name(analysis, sentence)):
        return found
    if found := _expansion(analysis, sentence):
        return found
    if _ASKS_ORDINAL.search(text) and (found := _ordinal(analysis, sentence)):
        return found
    if analysis.answer_type == "person" and (found := _relation(analysis, sentence)):
        return found
    if analysis.family in {"place", "name"} and (found := _named_focus(analysis, sentence)):
        return found
    known_for = analysis.answer_type == "description" and _ASKS_KNOWN_FOR.search(text)
    if known_for and (found := _known_for(analysis, sentence)):
        return found
    if analysis.answer_type == "description" and (found := _after_verb(analysis, sentence)):
        return found
    names_noun = analysis.answer_type == "description" and analysis.focus != "role" and _ASKS_THE.match(text)
    if names_noun and (found := _named_by_noun(analysis, sentence)):
        return found
    wants_amount = analysis.answer_type == "description" and analysis.focus != "role" and bool(
        analysis.predicate & _QUANTITY_STEMS
    )
    if wants_amount or (analysis.family in {"measure", "count"} and not spans):
        return _amount(analysis, sentence)
    if analysis.answer_type == "description" and analysis.focus != "role":
        return _amount_after_asked(analysis, sentence)
    return None


# ---- the hand preference -------------------------------------------------------------------------

_MONTH_NAME = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_ADJECTIVE_AFTER = lazy_compile(r"\s+(?!(?:of|and|de|the|von|van|der|da|du|la|le|al|bin|y)\b)[a-z]")
_WHOSE = lazy_compile(r"\bwhose\b", re.IGNORECASE)
_OF_THE_BEFORE = lazy_compile(r"\b(?:of the|out of)\s+$", re.IGNORECASE)
# Units a question may name ("how long is the Nile in km?", "how many acres"), each with its spellings.
_UNIT_NAMES = {
    "km": r"km|kilomet(?:re|er)s?", "mi": r"mi|miles?", "m": r"m|met(?:re|er)s?", "ft": r"ft|feet|foot",
    "cm": r"cm|centimet(?:re|er)s?", "kg": r"kg|kilograms?", "lb": r"lbs?|pounds?", "acre": r"acres?",
    "ha": r"ha|hectares?", "k": r"K|kelvin", "c": r"°\s?C|celsius", "f": r"°\s?F|fahrenheit",
    "mph": r"mph|miles per hour", "kmh": r"km/h|kph|kilomet(?:re|er)s per hour",
    "sqkm": r"km2|km²|square kilomet(?:re|er)s?", "sqmi": r"sq ?mi|square miles?",
}  # fmt: skip
_UNIT_IN_QUESTION = {u: lazy_compile(rf"\b(?:in|how many)\s+(?:{w})\b", re.IGNORECASE) for u, w in _UNIT_NAMES.items()}
_UNIT_IN_SPAN = {u: lazy_compile(rf"(?<![\w])(?:{w})(?![\w])") for u, w in _UNIT_NAMES.items()}


def _asked_unit(analysis: QuestionAnalysis) -> str | None:
    """The unit the question names ("in km", "how many acres"), if any."""
    for unit, pattern in _UNIT_IN_QUESTION.items():
        if pattern.search(analysis.text):
            return unit
    return None


def _focus_nouns(analysis: QuestionAnalysis) -> set[str]:
    """The noun a "which X" question asks for ("dynasty", "company"), as stems."""
    if analysis.family != "name" or not analysis.focus or analysis.focus == analysis.event:
        return set()  # "who founded ...?": the focus is the event, not a noun
    return set(tokenize(analysis.focus))


def _span_preference(
    analysis: QuestionAnalysis, sentence: str, start: int, end: int, others: tuple[tuple[int, int], ...] = ()
) -> float:
    """Higher for the span most likely to be the answer: in the clause that says what the question asks,
    near the question's words, person-like for who, of the unit asked, next to the noun asked for."""
    score = CLAUSE_WEIGHT * _clause_share(analysis, sentence, start, end, others)
    text = sentence[start:end]
    kind = analysis.answer_type
    if kind in {"person", "organisation"} and " " not in text and _ADJECTIVE_AFTER.match(sentence, end):
        score -= 1.0  # "an English computer scientist", "Successive dynasties": a word describing a noun
    if nouns := _focus_nouns(analysis):
        before = set(tokenize(sentence[max(0, start - 20) : start])[-1:])
        if nouns & (set(tokenize(text)) | before):
            score += 0.5  # "the Ming dynasty", "the company Horizon Pictures"
    if kind == "person" and _WHOSE.search(analysis.text) and text.endswith(("'s", "’s")):
        score += 1.0  # "whose comments did he mirror?": "President Trump’s"
        next_word = set(tokenize(" ".join(re.findall(r"\w+", sentence[end : end + 30])[:1])))
        if next_word and any(_said(s, next_word) for s in _asked(analysis)):
            score += 2.0  # "whose killing did Trump defend?": "Soleimani’s killing"
    if kind in {"person", "organisation"} and _BY_BEFORE.search(sentence[max(0, start - 8) : start]):
        before = set(tokenize(sentence[max(0, start - 80) : start]))
        asked = _asked(analysis)  # not a word of the document's title ("The Birth of a Nation")
        adjective = " " not in text and _ADJECTIVE_AFTER.match(sentence, end)  # "by the American radio astronomers"
        words = re.findall(r"\w+", sentence[max(0, start - 40) : start])
        words = words[:-1] if words and words[-1].lower() == "the" else words
        participle = len(words) >= 2 and words[-2].lower().endswith(("ed", "en", "wn", "un", "lt", "ot"))
        verb = set(tokenize(words[-2])) if participle and analysis.answer_type == "person" else set()
        if not adjective and (
            any(e in asked and _said(e, before) for e in tokenize(analysis.event or ""))
            or any(_said(s, verb) for s in asked)  # "operated by Mission Delta 31"
        ):
            score += 1.5  # "who created it?": "was created by Joan Ganz Cooney", the one who did it
    if kind == "person":
        words = text.split()
        if 2 <= len(words) <= 5:
            score += 1.0
        if _PREP_BEFORE.search(sentence[max(0, start - 12) : start]):
            score -= 1.0
        if _ROLE_WORDS.search(text.split()[-1]):
            score -= 1.5  # "Representative of the Supreme Leader" is a title, not the person
    if analysis.focus == "role" and _ROLE_WORDS.fullmatch(text.split()[-1]) and _names_another(analysis, sentence, end):
        score -= 2.0  # "President Gamal Abdel Nasser": the title of someone else
    if kind == "count" and analysis.focus:
        wanted = set(tokenize(analysis.focus))
        following = re.findall(r"[\w’'-]+", sentence[end : min(end + 30, _own_clause_end(sentence, end))])
        at = next((i for i, w in enumerate(following) if wanted & set(tokenize(w)) and _head(following, i)), None)
        if at is not None:
            near = at <= 1 or " " in analysis.focus  # a noun right after it, not a further one
            score += 2.0 if near else 1.0  # "75 districts" for "how many districts"; "two teams of six players"
        if _OF_THE_BEFORE.search(sentence[max(0, start - 12) : start]):
            score -= 1.0  # "Of the 58 members, 48 voted": the whole the part is taken from
    adjective = _ADJECTIVE_NEXT.match(sentence, end) if analysis.family == "measure" and analysis.focus else None
    if adjective and set(tokenize(adjective.group(1))) & set(tokenize(analysis.focus or "")):
        score += 1.0  # "how long are its paws?": "36 cm (14 in) long", not "21 cm (8.3 in) wide"
    ends = _A_RANGE.search(text) or _UNTIL_BEFORE.search(sentence[:start]) or re.match(r"(?:until|till)\b", text)
    if _ASKS_END.search(analysis.text) and ends:
        score += 0.5  # "when did it come to an end?": "from 1199 to 1349", "until 2002", not "from 1253"
    if analysis.family in {"measure", "date"}:
        inside = set(tokenize(text))
        score += sum(1 for s in _asked(analysis) if s in inside)  # "how long ago": "251.9 million years ago"
    if kind == "count" and start > 0 and text[:1].isupper() and not text[:1].isdigit():
        score -= 2.0  # "the anthology Three Hundred Tang Poems": a number inside a name
    if analysis.family == "date":
        if _IN_NAME.fullmatch(text) and _CAPITAL_BEFORE.search(sentence[:start]) and _CAPITAL_NEXT.match(sentence, end):
            score -= 2.0  # "Johann August Ephraim Goeze": a month inside a name
        event = (analysis.event or "").lower()
        if event in {"born", "birth"} and _LIFE_FROM.match(sentence, end):
            score += 1.0  # "864 or 865 – 925 or 935": born first, died second
        if event in {"die", "died", "death", "dies"} and _LIFE_TO.search(sentence[max(0, start - 4) : start]):
            score += 1.0
    unit = _asked_unit(analysis) if analysis.family in {"measure", "count"} else None
    if unit and _UNIT_IN_SPAN[unit].search(text):
        score += 3.0  # "how long is the Nile in km?": the figure in kilometres, not the one in miles
    left, right = _clause(sentence, start, end)  # a word of another clause is not near ("crust and 41%")
    distance = _distance(sentence[:right], start, end, _near_stems(analysis), left)
    if distance < 200:
        score -= distance / 200.0
    return score


CLAUSE_WEIGHT = 1.0
_BY_BEFORE = lazy_compile(r"\bby\s+(?:the\s+)?$")
_ADJECTIVE_NEXT = lazy_compile(r"\s*(?:\([^()]{1,30}\)\s*)?([a-z]+)\b")
_ASKS_END = lazy_compile(r"\b(?:until|till|end|ended|ends|last|lasted)\b", re.IGNORECASE)
_UNTIL_BEFORE = lazy_compile(r"\b(?:until|till|to|ending in|ended in)\s+$")
_A_RANGE = lazy_compile(r"\d\s*(?:to|–|-|until|till)\s*\d|\bto\s+\d")
_IN_NAME = lazy_compile(_MONTH_NAME)
_CAPITAL_BEFORE = lazy_compile(r"\b[A-Z][\w’'-]*\s$")
_CAPITAL_NEXT = lazy_compile(r"\s[A-Z]")
_LIFE_FROM = lazy_compile(r"\s?[–-]\s?")
_LIFE_TO = lazy_compile(r"[–-]\s?$")

_NAME_AFTER = lazy_compile(r"\s+((?:[A-Z][\w’'.-]*)(?:\s+(?:[A-Z][\w’'.-]*|[IVX]+))*)")


def _names_another(analysis: QuestionAnalysis, sentence: str, end: int) -> bool:
    """Is the role word at `end` followed by the name of someone the question does not ask about?"""
    m = _NAME_AFTER.match(sentence, end)
    if m is None:
        return False
    groups = subject_groups(analysis)
    main = groups[0] if groups else frozenset()
    return not (set(tokenize(m.group(1))) & main)


# ---- widening -------------------------------------------------------------------------------------

_RANGE_END = lazy_compile(r"\s*(?:to|and|until|till|–|-)\s*(?:\d{1,2}\s+\w+\s+)?(?:\d{3,4}|\d{1,4}\s?(?:BC|BCE|AD|CE))\b(?:\s?(?:BC|BCE|AD|CE)\b)?")  # noqa: E501
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred"
)
_QUANTITY = rf"(?:\d[\d,.]*|(?:{_NUMBER_WORDS}))(?:\s?(?:%|°\s?[CFK]|(?!(?:in|on|at|and|or|of|the)\b)[A-Za-z]+\.?))?"
_RANGE_LEFT = lazy_compile(rf"(?:\bbetween\s+)?\b{_QUANTITY}\s*(?:to|–|—|-)\s*$|\bbetween\s+$", re.IGNORECASE)
_AND_LEFT = lazy_compile(rf"\bbetween\s+{_QUANTITY}\s+and\s+$", re.IGNORECASE)
_RANGE_RIGHT = lazy_compile(
    rf"\s*(?:to|–|—|or|±)\s*\d(?:[\d,.]*\d)?(?:\s?(?:%|{_NOT_UNIT}[A-Za-z]+\b))?", re.IGNORECASE
)
_COUNT_RIGHT = lazy_compile(
    r"\s*(?:to|–|—|or)\s*\d(?:[\d,.]*\d)?(?:\s?(?:million|billion|thousand|%|"
    + "|".join(_UNIT_NAMES.values())
    + r")\b)?",
    re.IGNORECASE,
)
_DURATION_RIGHT = lazy_compile(r"\s+and\s+\d+\s+(?:days|weeks|months|hours|minutes)\b", re.IGNORECASE)
_OPEN_END = lazy_compile(r"\s+(?:ago|or (?:longer|more|less|fewer|so|older|younger|earlier|later|above|below))\b")
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_MONTH_ONLY = lazy_compile(rf"(?:\w+\s+)?{_MONTH}(?:\s+\d{{1,2}})?")
_DATE_RIGHT = lazy_compile(
    rf"\s+(?:and|to|until|till|through)\s+(?:\d{{1,2}}\s+)?{_MONTH}(?:\s+\d{{1,2}})?,?\s+\d{{3,4}}\b"
)
_ERA_LEFT = lazy_compile(
    r"\b(?:the\s+)?(?:early|late|mid|middle|(?:end|beginning|start|middle|turn) of(?: the)?)[\s-]+$", re.IGNORECASE
)
_SECONDS = lazy_compile(r":\d{2}\b")


def _with_range(sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """A number that is one end of a range or a compound with the rest of it: "12–15 km", "9 to 11 years",
    "between 1599 and 1601", "864 or 865", "72 years and 110 days"."""
    before = sentence[max(0, start - 40) : start]
    left = _AND_LEFT.search(before) or _RANGE_LEFT.search(before)
    if left:
        start -= len(before) - left.start()
    right = (_COUNT_RIGHT if kind == "count" else _RANGE_RIGHT).match(sentence, end)
    if right and not re.match(r"\s*-", sentence[end:]):
        end = right.end()
    elif kind == "duration" and (more := _DURATION_RIGHT.match(sentence, end)):
        end = more.end()
    if kind != "count" and (open_end := _OPEN_END.match(sentence, end)):
        end = open_end.end()  # "six months or longer", "251.9 million years ago"
    return start, end


def _date(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A date with the rest of what it is part of: "between April and July 1887", "the early 19th century",
    "07:58:53"."""
    if _MONTH_ONLY.fullmatch(sentence[start:end]) and (more := _DATE_RIGHT.match(sentence, end)):
        end = more.end()
    if re.match(r"\d", sentence[start:end]) and (era := _ERA_LEFT.search(sentence[max(0, start - 20) : start])):
        start -= len(sentence[max(0, start - 20) : start]) - era.start()
    if seconds := _SECONDS.match(sentence, end):
        end = seconds.end()
    if split := re.search(r"\d{1,3}(?:,\d{3})*,$", sentence[max(0, start - 16) : start]):
        start -= len(split.group(0))  # "105,000 years ago", not "000 years ago"
    elif re.match(rf"\d{{1,2}}\s+{_MONTH}", sentence[start:end]) and (
        days := _DAYS_LEFT.search(sentence[max(0, start - 24) : start])
    ):
        start -= len(sentence[max(0, start - 24) : start]) - days.start()  # "6 and 9 August 1945"
    return start, end


_DAYS_LEFT = lazy_compile(r"\b\d{1,2}(?:,\s*\d{1,2})*,?\s+(?:and|or|to|–|-)\s+$|\b\d{1,2}\s?[–-]$")


_SENTENCE_END = lazy_compile(r"(\w{2,})\.\s+(?=[A-Z])")
_ABBREVIATIONS = frozenset(
    ["gen", "col", "capt", "cpt", "maj", "adm", "sgt", "cpl", "lt", "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gov",
     "sen", "rep", "prof", "rev", "mt", "ft", "co", "no", "vol"]
)  # fmt: skip


def _name(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> tuple[int, int]:
    """A name without the question's own words in front ("Iran’s Supreme Leader Ayatollah Ali Khamenei"
    for "Who is Iran's Supreme Leader?" is "Ayatollah Ali Khamenei"), without the next sentence's first
    word ("King Frederick William IV. During"), with "The" that belongs to it ("the magazine The
    Criterion") and with the noun the question asks for ("the Ming dynasty" for "which dynasty")."""
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
    if start >= 4 and sentence[start - 4 : start] == "The " and sentence[: start - 4].rstrip()[-1:].isalnum():
        start -= 4
    if analysis.focus and _focus_nouns(analysis):  # "which dynasty", not the event of "who created"
        noun = re.escape(analysis.focus.split()[-1])
        more = re.match(rf"(?:\s+[a-z][\w-]*){{0,2}}\s+{noun}s?\b(?!\s+[A-Z])", sentence[end:])
        if more:
            end += more.end()
    if number := _NAME_NUMBER.match(sentence, end):
        end = number.end()  # "Mission Delta 31", "Apollo 11"
    if acronym := _ACRONYM_AFTER.match(sentence, end):
        end = acronym.end()  # "the People's Movement for the Liberation of Angola (MPLA)"
    elif analysis.answer_type == "person" and (group := _GROUP_AFTER.match(sentence, end)):
        end = group.end()  # "British Army officers"
    return start, end


_NAME_NUMBER = lazy_compile(r"\s+\d{1,3}\b(?=\s*(?:[,.;:)]|$)|\s+(?:and|is|was|in|at|on)\b)")
_ACRONYM_AFTER = lazy_compile(
    r"(?:\s+(?:for|of)\s+(?:the\s+)?[A-Z][\w’'-]*(?:\s+(?:(?:of|the|for|and)\s+)*[A-Z][\w’'-]*)*)?\s+\([A-Z][A-Za-z.&]{1,9}\)"
)
_GROUP_AFTER = lazy_compile(
    r"\s+(?:officers|soldiers|troops|personnel|officials|forces|members|scientists|researchers|engineers|workers|"
    r"settlers|missionaries|sailors|colonists|monks|priests|merchants|traders|students|leaders|rebels|fighters)\b"
)


_DIRECTION_LEFT = lazy_compile(
    r"\b(?:north|south|east|west|central|northern|southern|eastern|western|north-?eastern|north-?western|"
    r"south-?eastern|south-?western|upper|lower)\s+$",
    re.IGNORECASE,
)


def _place(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A place with the direction in front of it: "western Iraq"."""
    if direction := _DIRECTION_LEFT.search(sentence[max(0, start - 16) : start]):
        start -= len(sentence[max(0, start - 16) : start]) - direction.start()
    if more := _PLACE_MORE.match(sentence, end):
        end = more.end()  # "Pieve di Cadore"
    elif land := _LAND_AFTER.match(sentence, end):
        end = land.end()  # "the Armenian highlands"
    return start, end


_LAND_AFTER = lazy_compile(
    r"\s+(?:highlands?|lowlands?|mountains|hills|plateau|plain|plains|valley|basin|coast|peninsula|islands?|desert|"
    r"region|province|delta|steppe|uplands?)\b"
)


_PLACE_MORE = lazy_compile(
    r"(?:\s+(?:di|da|del|della|dei|de|do|dos|das|du|des|von|van|der|den|el|al|y)\s+[A-Z][\w’'-]*)+"
)


_ROLE_MODIFIER = lazy_compile(r"chief|head|deputy|vice|assistant|senior|junior|acting|general", re.IGNORECASE)
_TITLE_LEFT = lazy_compile(
    r"\b(?:a|an|the|as|became|become|becomes|was|is|named|appointed|elected)\s+((?:[A-Z][\w’'-]*\s+)+)$"
)


_LIST_WORD = r"(?!(?:who|which|that|whose|and|or|from|in|at|of|with|for|by)\b)[\w’'-]+"
_ITEM = rf"(?:{_LIST_WORD}\s){{0,3}}{_LIST_WORD}"
_COPULA_LIST = lazy_compile(
    rf"\b(?:is|was|are|were)\s+(?:(?:a|an|the)\s+)?({_ITEM}(?:,\s+(?:and\s+)?{_ITEM})+)"
    r"(?=\s+(?:who|which|that|whose)\b|\s*[;:(.]|\s*$)"
)


def _role(analysis: QuestionAnalysis, sentence: str, start: int, end: int) -> tuple[int, int]:
    """A role word with the words that make it a title ("foreign minister", "minister of defence", "a Royal
    Society Research Professor", "Emperor Seon" when a title is asked), or the list of what someone was
    when it is one of them ("a German sociologist, historian, jurist, and political economist")."""
    for listed in _COPULA_LIST.finditer(sentence):
        if listed.start(1) <= start and end <= listed.end(1):
            return listed.span(1)
    before = sentence[:start]
    if title := _TITLE_LEFT.search(before[-60:]):
        start -= len(title.group(1))
    else:
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
    noun = re.match(r"\s+[a-z]{4,}\b", sentence[end:])
    if noun and _ROLE_MODIFIER.fullmatch(sentence[start:end].split()[-1]):
        end += noun.end()  # "the chief librarian", "head coach"
    after = re.match(r"\s+(?:of|for)\s+(?:the\s+)?(?:[A-Z][\w’'-]*\s*)+", sentence[end:])
    if after:
        end += len(after.group(0).rstrip())
    elif re.search(r"\btitle\b", analysis.text, re.IGNORECASE) and (name := _NAME_AFTER.match(sentence, end)):
        end = name.start(1) + len(name.group(1).rstrip("."))
    return start, end


_MANY = lazy_compile(r"(?:hundreds|thousands|millions|billions|dozens|tens|scores)", re.IGNORECASE)
_MANY_OF = lazy_compile(r"\s+of\s+(?:[A-Z][\w’'-]*|[a-z]+)")
_LIFE_EVENTS = frozenset({"born", "birth", "die", "died", "death", "dies"})


_COUNTED_AFTER = lazy_compile(r"\s+(?:([a-z][\w’'-]*)\s+)?([a-z][\w’'-]*)\b")


def _counted(analysis: QuestionAnalysis, sentence: str, end: int) -> int:
    """A count with the noun "how many X" asks for when it follows (one word may stand between): "200
    countries", "143 extant species"."""
    if not analysis.focus or analysis.focus == analysis.event:
        return end
    words = analysis.focus.split()  # the noun: "players", "living species", "countries and territories"
    listed = len(words) > 2 and words[1] in {"and", "or"}
    nouns = words[-1:] if len(words) <= 2 else words[:1] if listed else []  # "un members voted": no noun to add
    wanted = set(tokenize(" ".join(nouns)))
    m = _COUNTED_AFTER.match(sentence, end)
    if m is None:
        return end
    words = re.findall(r"[\w’'-]+", sentence[end : end + 60])
    if m.group(1) and wanted & set(tokenize(m.group(1))) and _head(words, 0):
        return m.end(1)
    noun_at = 1 if m.group(1) else 0
    if m.group(1) not in _FUNCTION_WORDS and wanted & set(tokenize(m.group(2))) and _head(words, noun_at):
        return m.end(2)
    return end


_FUNCTION_WORDS = frozenset(
    ["and", "or", "of", "in", "on", "at", "to", "for", "from", "with", "by", "as", "is", "was", "are", "were", "that",
     "which", "who", "whose", "when", "where", "while", "than", "each", "worldwide", "total", "had", "has", "have",
     "been", "be", "will", "would", "could", "can", "may", "might", "did", "do", "does", "not", "also", "only"]
)  # fmt: skip


def _head(words: list[str], i: int) -> bool:
    """Is words[i] the end of its noun phrase, not a word describing the next ("four story collections")?"""
    if i + 1 >= len(words):
        return True
    after = words[i + 1]
    verb = after.endswith(("ed", "ing"))  # "15 ballistic missiles launched", "six players competing"
    return after.lower() in _FUNCTION_WORDS or verb or not after.islower()


def _widen(analysis: QuestionAnalysis, sentence: str, start: int, end: int, kind: str) -> tuple[int, int]:
    """What a reader would quote around a span of the given kind."""
    if (analysis.event or "") in _LIFE_EVENTS and (
        re.match(r"\s*[–-]", sentence[end:]) or re.search(r"[–-]\s*$", sentence[:start])
    ):
        return _date(sentence, start, end)  # "1332 – 1406": born is the first year only, died the second
    if kind == "year" and (more := _RANGE_END.match(sentence, end)):
        end = more.end()
    if kind in {"year", "date", "time"}:
        start, end = _date(sentence, start, end)
    if kind == "count" and (many := _MANY_OF.match(sentence, end)) and _MANY.fullmatch(sentence[start:end]):
        return start, many.end()  # "hundreds of Americans"
    if kind not in {"role", "description", "person", "organisation", "city", "country", "place", "title", "yesno"}:
        return _with_range(sentence, start, end, kind)
    if kind in {"person", "organisation"}:
        return _name(analysis, sentence, start, end)
    if kind in {"city", "country", "place"}:
        return _place(sentence, start, end)
    if kind == "role":
        return _role(analysis, sentence, start, end)
    return start, end


# ---- features and ranking ---------------------------------------------------------------------------

SPAN_FEATURES = (
    "preference", "words", "position", "index", "prep_before", "role_last", "focus_after",
    "near_predicate", "near_subject", "digits", "capitals", "whole", "in_brackets", "after_copula",
)  # fmt: skip


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
        numeric = analysis.family in {"measure", "count", "date"}  # words of a competing figure are its own
        others = {o: tuple(p for p in options if p != o and numeric) for o in options}
        start, end = max(options, key=lambda o: (_span_preference(analysis, sentence, o[0], o[1], others[o]), -o[0]))
        return start, _counted(analysis, sentence, end) if analysis.family == "count" else end
    coef = SPAN_MODEL["coef"]
    mean, scale = SPAN_MODEL["mean"], SPAN_MODEL["scale"]

    def score(i: int) -> float:
        row = span_row(analysis, sentence, *options[i], i)
        return sum(c * (x - m) / sc for c, x, m, sc in zip(coef, row, mean, scale, strict=True))

    best = max(range(len(options)), key=lambda i: (score(i), -i))
    return options[best]
