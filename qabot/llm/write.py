"""The writer: a short answer written by the model from numbered passages, then checked.

The model sees the passages qabot retrieved, numbered [1]..[n], and writes one to three
sentences, each ending with the number of the passage it comes from. Every sentence is then
checked against the passages it cites; a sentence is dropped when it cites nothing (or a
number that is not a passage), or when something in it is not in those passages: a number,
a name (a capitalised word, the first one included), a quoted phrase, a negation ("not", "never"),
or most of its content words; also when the passage sentence it is closest to holds a
negation the written one lacks ("Iran does not want war" -> "Iran wants war"). What survives
is the answer, each sentence with its [n]; when nothing does, the caller falls back to the
quoted (extractive) answer.
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
    missing_numbers = _numbers(sentence) - _numbers(source)
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
        negated = {w for w in _WORD.findall(closest.lower()) if w in NEGATIONS or w.endswith("n't")}
        if negated and not negated & set(lowered_words) and not any(w.endswith("n't") for w in lowered_words):
            return WrittenSentence(sentence, cites, False, "the passage says the opposite (a negation is missing)")
    return WrittenSentence(sentence, cites, True)


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
