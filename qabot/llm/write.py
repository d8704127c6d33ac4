"""The writer: a short answer written by the model from numbered passages, then checked.

The model sees the passages qabot retrieved, numbered [1]..[n], and writes one to three
sentences, each ending with the number of the passage it comes from. Every sentence is then
checked against the passages it cites; a sentence is dropped when it cites nothing (or a
number that is not a passage), or when something in it is not in those passages: a number,
a name (a capitalised word, the first one included), a quoted phrase, a negation ("not", "never"),
or most of its content words. Shared words are not enough, so meanings flipped with the same
words are caught too: a sentence is dropped when the passage sentence it is closest to holds a
negation the written one lacks ("Iran does not want war" -> "Iran wants war") or lacks one the
written one holds; when it says the opposite of a word there ("before" for "after", "more"
for "fewer"); and when a number (digits or a number word, "ten" = 10) is not said of the same
thing as in the passage ("Iran launched 10 missiles" where 15 were launched and ten hit: no
word next to the written number is next to that number in the passage). What survives is the
answer, each sentence with its [n]; when nothing does, the caller falls back to the quoted
(extractive) answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import LLMUnavailable
from ..records import Answer
from .client import ChatClient

SYSTEM = (
    "You answer questions using only the numbered passages you are given. Write one to three short sentences. "
    "End every sentence with the number of the passage it comes from, in square brackets, like [2]. "
    "Use only facts that are written in the passages. If the passages do not answer the question, "
    "reply exactly: NOT FOUND"
)
_MARK = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z\"“])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_QUOTED = re.compile(r"[\"“]([^\"”]{2,})[\"”]")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*")
# "one" is left out: it is more often a pronoun ("one of the bases") than a count.
_SMALL_NUMBERS = (
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty"
)
_NUMBER_WORDS = {w: i for i, w in enumerate(_SMALL_NUMBERS.split()) if w != "_"} | {
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_NEAR_WRITTEN = 4  # words either side of a number in the written sentence
_NEAR_PASSAGE = 4  # ... and in the passage
_OPPOSITES = [
    ("before", "after"), ("more", "less"), ("more", "fewer"), ("most", "least"), ("higher", "lower"),
    ("highest", "lowest"), ("larger", "smaller"), ("largest", "smallest"), ("bigger", "smaller"),
    ("above", "below"), ("increased", "decreased"), ("increase", "decrease"), ("rose", "fell"),
    ("first", "last"), ("earlier", "later"), ("north", "south"), ("east", "west"), ("won", "lost"),
    ("win", "lose"), ("inside", "outside"), ("maximum", "minimum"), ("true", "false"), ("accepted", "rejected"),
    ("allowed", "banned"), ("success", "failure"), ("succeeded", "failed"), ("always", "never"),
]  # fmt: skip
OPPOSITES = {a: b for a, b in _OPPOSITES} | {b: a for a, b in _OPPOSITES}
NEGATIONS = {"not", "no", "never", "none", "nor", "neither", "nobody", "nothing", "cannot", "without"}
_STOPWORDS = (
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that these "
    "those he she they them his her their there which who whom whose what when where why how than then also into "
    "about after before over under up down out more most some any all each other such only own same so too very "
    "can will just should would could may might must has have had do does did i you we our your us me my"
)
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True, slots=True)
class WrittenSentence:
    text: str  # without its markers
    cites: tuple[int, ...]  # 1-based passage numbers
    supported: bool
    reason: str = ""


def prompt(question: str, passages: list[str]) -> list[dict[str, str]]:
    numbered = "\n".join(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(passages, start=1))
    user = f"Passages:\n{numbered}\n\nQuestion: {question}\nAnswer:"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def split_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, cited numbers) for each sentence of the model's text."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for raw in _SENTENCE_END.split(" ".join(text.split())):
        raw = raw.strip()
        if not raw:
            continue
        cites = tuple(int(n) for group in _MARK.findall(raw) for n in re.split(r"\s*,\s*", group))
        plain = " ".join(_MARK.sub(" ", raw).split())
        plain = re.sub(r"\s+([.,;:!?])", r"\1", plain)
        if plain.strip(" .,;:!?"):
            out.append((plain, cites))
        elif out and cites:  # a marker standing after the full stop: it belongs to the sentence before
            text_before, earlier = out[-1]
            out[-1] = (text_before, earlier + cites)
    return out


def _stem(word: str) -> str:
    return word.lower()[:6]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def check_sentence(sentence: str, cites: tuple[int, ...], passages: list[str]) -> WrittenSentence:
    """Whether everything the sentence says is in the passages it cites."""
    if not cites:
        return WrittenSentence(sentence, cites, False, "cites no passage")
    if any(not 1 <= n <= len(passages) for n in cites):
        return WrittenSentence(sentence, cites, False, "cites a passage that does not exist")
    source = " ".join(" ".join(passages[n - 1].split()) for n in cites)
    lowered = source.lower()
    source_words = {w.lower() for w in _WORD.findall(source)}
    source_stems = {_stem(w) for w in source_words}
    said = _numbers(source) | {value for _, value in _tokens(source) if value is not None}  # "two" is 2
    missing_numbers = _numbers(sentence) - said
    if missing_numbers:
        return WrittenSentence(sentence, cites, False, f"number {sorted(missing_numbers)[0]} is not in the passage")
    words = _WORD.findall(sentence)
    for word in words:  # the first word too: "Trump launched ..." names someone the passage does not
        if word[:1].isupper() and word.lower() not in source_words and word.lower() not in STOPWORDS:
            return WrittenSentence(sentence, cites, False, f"name {word!r} is not in the passage")
    for quoted in _QUOTED.findall(sentence):
        if " ".join(quoted.lower().split()) not in lowered:
            return WrittenSentence(sentence, cites, False, f"quote {quoted!r} is not in the passage")
    lowered_words = [w.lower() for w in words]
    for word in lowered_words:
        if (word in NEGATIONS or word.endswith("n't")) and word not in source_words:
            return WrittenSentence(sentence, cites, False, f"{word!r} is not in the passage")
    content = [w for w in lowered_words if w not in STOPWORDS and not w.isdigit() and len(w) > 2]
    if content:
        known = sum(1 for w in content if w in source_words or _stem(w) in source_stems)
        if known / len(content) < 0.6:
            return WrittenSentence(sentence, cites, False, "most of its words are not in the passage")
    closest = _closest_sentence(set(lowered_words), source)
    if closest is not None:
        flipped = _flipped(lowered_words, [w.lower() for w in _WORD.findall(closest)])
        if flipped:
            return WrittenSentence(sentence, cites, False, f"the passage says the opposite ({flipped})")
    misplaced = _misplaced_number(sentence, source)
    if misplaced:
        return WrittenSentence(sentence, cites, False, f"number {misplaced} is said of something else in the passage")
    return WrittenSentence(sentence, cites, True)


def _negated(words: list[str]) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in words)


def _flipped(written: list[str], closest: list[str]) -> str:
    """Why the written sentence reverses the passage sentence it is closest to, or ""."""
    if _negated(closest) and not _negated(written):
        return "a negation is missing"
    if _negated(written) and not _negated(closest):
        return "a negation was added"
    said = set(closest)
    for word in written:
        opposite = OPPOSITES.get(word)
        if opposite is not None and opposite in said and word not in said:
            return f"{word!r} where the passage says {opposite!r}"
    return ""


def _tokens(text: str) -> list[tuple[str, str | None]]:
    """(lower-case word, its value when it is a number) for each word of text; "1,200" is one word."""
    out: list[tuple[str, str | None]] = []
    for token in _TOKEN.findall(text):
        word = token.lower()
        if word[0].isdigit():
            out.append((word, word.replace(",", "")))
        else:
            value = _NUMBER_WORDS.get(word)
            out.append((word, None if value is None else str(value)))
    return out


def _neighbours(tokens: list[tuple[str, str | None]], at: int, reach: int) -> set[str]:
    """The content words (no stopwords, no numbers) within `reach` words of position `at`."""
    lo, hi = max(0, at - reach), min(len(tokens), at + reach + 1)
    return {w for i, (w, v) in enumerate(tokens[lo:hi], start=lo) if i != at and v is None and w not in STOPWORDS}


def _same_word(a: str, b: str) -> bool:
    if a == b or a.rstrip("s") == b.rstrip("s"):
        return True
    return len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5]  # launched / launch, attacked / attacks


def _counted(tokens: list[tuple[str, str | None]], at: int) -> str | None:
    """The word right after the number at `at` when it is a content word ("15 *missiles*"), else None."""
    if at + 1 < len(tokens):
        word, value = tokens[at + 1]
        if value is None and word not in STOPWORDS:
            return word
    return None


def _misplaced_number(sentence: str, source: str) -> str:
    """A number of the sentence not said of the same thing anywhere in the source, or "".

    Said of the same thing: an occurrence of the number in one source sentence shares a word
    with the written number's neighbours; and when both are followed by a word ("15 bases",
    "15 ballistic missiles"), the written one is among the two words after the source's.
    """
    written = _tokens(sentence)
    passage = [_tokens(part) for part in re.split(r"(?<=[.!?])\s+", source)]
    for at, (word, value) in enumerate(written):
        if value is None:
            continue
        near = _neighbours(written, at, _NEAR_WRITTEN)
        if not near:
            continue  # nothing said of the number: the number check above is all there is
        places = [(part, i) for part in passage for i, (_, v) in enumerate(part) if v == value]
        if not places:
            return word  # a number word ("ten") the passage holds neither as a word nor in digits
        counted = _counted(written, at)
        if not any(_said_alike(near, counted, part, i) for part, i in places):
            return word
    return ""


def _said_alike(near: set[str], counted: str | None, part: list[tuple[str, str | None]], at: int) -> bool:
    """Whether the number at `at` of a source sentence is said of what the written number is."""
    if not any(_same_word(a, b) for a in near for b in _neighbours(part, at, _NEAR_PASSAGE)):
        return False
    if counted is None or _counted(part, at) is None:
        return True
    after = [w for w, v in part[at + 1 : at + 3] if v is None]
    return any(_same_word(counted, b) for b in after)


def _closest_sentence(words: set[str], source: str) -> str | None:
    best, best_overlap = None, 0
    for candidate in re.split(r"(?<=[.!?])\s+", source):
        overlap = len(words & {w.lower() for w in _WORD.findall(candidate)} - STOPWORDS)
        if overlap > best_overlap:
            best, best_overlap = candidate, overlap
    return best


def check(text: str, passages: list[str]) -> list[WrittenSentence]:
    """Every sentence of the model's text, checked; [] for NOT FOUND or an empty reply."""
    if not text.strip() or text.strip().upper().startswith("NOT FOUND"):
        return []
    return [check_sentence(sentence, cites, passages) for sentence, cites in split_sentences(text)]


def answer_text(sentences: list[WrittenSentence]) -> str | None:
    """The surviving sentences, each followed by its markers; None when none survives."""
    kept = [f"{s.text} {''.join(f'[{n}]' for n in dict.fromkeys(s.cites))}" for s in sentences if s.supported]
    return " ".join(kept) if kept else None


def written_answer(client: ChatClient, answer: Answer, on_text: Callable[[str], None] | None = None) -> Answer:
    """The answer the model writes from `answer`'s passages (its citations, same numbers), checked.

    The quoted answer comes back, with a warning, when the model fails or no sentence survives.
    With on_text, the model's text is streamed to it as it arrives.
    """
    if answer.abstained or not answer.citations:
        return answer
    passages = [c.text for c in answer.citations]
    messages = prompt(answer.question, passages)
    try:
        if on_text is None:
            text = client.chat(messages, max_tokens=200).text
        else:
            text = client.stream_text(messages, on_text, max_tokens=200)
    except LLMUnavailable as exc:
        return replace(answer, warnings=(*answer.warnings, f"{exc}; the quoted answer is given"))
    sentences = check(text, passages)
    written = answer_text(sentences)
    kept = sum(s.supported for s in sentences)
    signals = {**answer.signals, "written_sentences": float(kept), "dropped_sentences": float(len(sentences) - kept)}
    if written is None:
        why = "it found no answer" if not sentences else "no sentence it wrote is supported by its passages"
        return replace(
            answer,
            signals=signals,
            warnings=(*answer.warnings, f"model answer not used ({why}); the quoted answer is given"),
        )
    return replace(answer, text=written, signals=signals)
