"""Split a Document into paragraphs, sentences and token-bounded chunks.

Offsets are carried from a single cursor, never searched for: every Span indexes
`document.text` directly, and `chunk.text == document.text[chunk.start:chunk.end]`.
Sentence boundaries come from syntok; a chunk is a run of whole sentences from one
paragraph whose embedding input fits the model's token limit. A sentence longer than
the limit is cut at token boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from .records import Chunk, Document, Span

# Blank line(s) separate paragraphs; tolerate trailing spaces and \r\n.
_PARAGRAPH_BREAK = re.compile(r"(?:[ \t\f\v]*\r?\n){2,}|(?:[ \t\f\v]*\r){2,}")

TokenCounter = Callable[[Sequence[str]], list[int]]
TokenCutter = Callable[[str, int], list[int]]  # text, max tokens -> cut points (char offsets)
TITLE_MAX_CHARS = 120
LONG_PARAGRAPH = 20_000  # characters; shorter paragraphs always go through syntok
# Characters after which syntok may end a sentence (terminal punctuation, Latin and CJK).
_SENTENCE_END = re.compile(r"[.!?;:…。！？\u0964\u06d4]")


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """A document cut into sentences (unique, ordered) and chunks over them."""

    document: Document
    sentences: tuple[Span, ...]
    chunks: tuple[Chunk, ...]
    chunk_sentences: tuple[tuple[int, int], ...]  # [first, last) sentence index per chunk
    embed_inputs: tuple[str, ...]  # what the model sees for each chunk


def paragraph_spans(text: str) -> list[Span]:
    """Non-blank paragraphs, stripped of surrounding white space."""
    spans: list[Span] = []
    cursor = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        _append_stripped(text, cursor, match.start(), spans)
        cursor = match.end()
    _append_stripped(text, cursor, len(text), spans)
    return spans


def _append_stripped(text: str, start: int, end: int, out: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Span(start, end))


def sentence_spans(text: str, paragraph: Span) -> list[Span]:
    """Sentences inside one paragraph: each runs from its first token to the next sentence."""
    from syntok import segmenter, tokenizer

    body = text[paragraph.start : paragraph.end]
    if len(body) > LONG_PARAGRAPH and not _SENTENCE_END.search(body):
        # Nothing that could end a sentence (a megabyte of unpunctuated text, a list of words):
        # one sentence, cut later at token boundaries. syntok's pure-Python tokenizer would spend
        # ~15 ms per chunk to find no boundary at all.
        spans: list[Span] = []
        _append_stripped(text, paragraph.start, paragraph.end, spans)
        return spans
    starts: list[int] = []
    for sentence in segmenter.split(iter(tokenizer.Tokenizer().tokenize(body))):
        if sentence:
            starts.append(paragraph.start + sentence[0].offset)
    if not starts or starts[0] != paragraph.start:
        starts.insert(0, paragraph.start)
    spans = []
    bounds = [*starts, paragraph.end]
    for a, b in pairwise(bounds):
        _append_stripped(text, a, b, spans)
    return spans


def plan_chunks(
    doc: Document,
    count_tokens: TokenCounter,
    cut_tokens: TokenCutter,
    max_tokens: int,
    overlap: int = 1,
    embed_title: bool = True,
) -> ChunkPlan:
    """Cut `doc` into chunks of whole sentences that fit `max_tokens` word pieces.

    `max_tokens` counts the special tokens and, when `embed_title` is set, the title
    line prefixed to chunks that do not already start with it.
    """
    text = doc.text
    title = doc.title[:TITLE_MAX_CHARS]
    paragraphs = [(para, sentence_spans(text, para)) for para in paragraph_spans(text)]
    # One tokenizer call for the title and every sentence of the document.
    flat = [span for _, spans in paragraphs for span in spans]
    with_title = bool(embed_title and title)
    counts = count_tokens(([title] if with_title else []) + [text[x.start : x.end] for x in flat])
    title_tokens = counts[0] if with_title else 0
    costs_left = iter(counts[1:] if with_title else counts)
    sentences: list[Span] = []
    chunks: list[Chunk] = []
    ranges: list[tuple[int, int]] = []
    inputs: list[str] = []
    for para, spans in paragraphs:
        prefix = title if (title_tokens and para.start > 0 and title_tokens < max_tokens // 3) else ""
        budget = max_tokens - (title_tokens if prefix else 0)
        raw_costs = [next(costs_left) for _ in spans]
        para_sents, costs = _fit_sentences(text, spans, raw_costs, count_tokens, cut_tokens, budget)
        first_index = len(sentences)
        sentences.extend(para_sents)
        for lo, hi in _windows(costs, budget, overlap):
            start, end = para_sents[lo].start, para_sents[hi - 1].end
            chunk_text = text[start:end]
            chunks.append(Chunk(doc.source, start, end, chunk_text, tuple(para_sents[lo:hi])))
            ranges.append((first_index + lo, first_index + hi))
            inputs.append(f"{prefix}\n{chunk_text}" if prefix else chunk_text)
    return ChunkPlan(doc, tuple(sentences), tuple(chunks), tuple(ranges), tuple(inputs))


def _fit_sentences(
    text: str,
    spans: list[Span],
    costs: list[int],
    count_tokens: TokenCounter,
    cut_tokens: TokenCutter,
    max_tokens: int,
) -> tuple[list[Span], list[int]]:
    """Cut any sentence longer than max_tokens into pieces that fit: the spans and their costs."""
    if all(cost <= max_tokens for cost in costs):
        return spans, costs
    out: list[Span] = []
    for span, cost in zip(spans, costs, strict=True):
        if cost <= max_tokens:
            out.append(span)
            continue
        piece_start = span.start
        for cut in cut_tokens(text[span.start : span.end], max_tokens):
            _append_stripped(text, piece_start, span.start + cut, out)
            piece_start = span.start + cut
        _append_stripped(text, piece_start, span.end, out)
    return out, count_tokens([text[x.start : x.end] for x in out])


def _windows(costs: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy runs of sentences whose summed cost fits the budget, overlapping by `overlap`.

    Costs include the two special tokens of each sentence; a joined run pays them once,
    so summing them over-estimates and keeps every chunk under the limit.
    """
    windows: list[tuple[int, int]] = []
    lo = 0
    n = len(costs)
    while lo < n:
        hi = lo + 1
        total = costs[lo]
        while hi < n and total + costs[hi] - 2 <= budget:
            total += costs[hi] - 2
            hi += 1
        windows.append((lo, hi))
        if hi >= n:
            break
        lo = max(hi - overlap, lo + 1)
    return windows
