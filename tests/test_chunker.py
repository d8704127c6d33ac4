"""Chunking invariants: exact offsets, whole sentences, token limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qabot.chunker import paragraph_spans, plan_chunks, sentence_spans
from qabot.records import Document

from .conftest import SEED_FILE
from .fakes import FakeEmbedder

FAKE = FakeEmbedder()

# Pieces that make hard text: repeated sentences, abbreviations, unicode, odd breaks.
PIECES = [
    "The cat sat.", "The cat sat.", "Dr. Smith went to Washington D.C. on Monday.", "Ünïcödé — naïve café.",
    "Emoji 🚀 launched!", "\n\n", "\r\n\r\n", "\n", "  ", "Why?", "“Quoted,” he said.", "15 missiles, 4 failed.",
    "e.g. this", "…", "\t", "日本語の文です。", "U.S. troops", "no-space.Next",
]  # fmt: skip

texts = st.lists(st.sampled_from(PIECES) | st.text(min_size=1, max_size=30), min_size=1, max_size=40).map(
    lambda parts: " ".join(parts)
)


def _check(text: str, max_tokens: int, overlap: int, title: bool) -> None:
    doc = Document("doc.txt", text, "0" * 64)
    plan = plan_chunks(doc, FAKE.count_tokens, FAKE.cut_points, max_tokens, overlap, title)
    for chunk in plan.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
        for sent in chunk.sentences:
            assert chunk.start <= sent.start < sent.end <= chunk.end
    for embed_input in plan.embed_inputs:
        assert FAKE.count_tokens([embed_input])[0] <= max_tokens
    # Sentences are ordered, disjoint, and together hold every non-space character.
    covered = 0
    previous_end = 0
    for sent in plan.sentences:
        assert previous_end <= sent.start < sent.end
        assert text[sent.start : sent.end].strip() == text[sent.start : sent.end]
        covered += sum(1 for ch in text[sent.start : sent.end] if not ch.isspace())
        previous_end = sent.end
    assert covered == sum(1 for ch in text if not ch.isspace())
    for (lo, hi), chunk in zip(plan.chunk_sentences, plan.chunks, strict=True):
        assert plan.sentences[lo].start == chunk.start and plan.sentences[hi - 1].end == chunk.end


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(min_value=8, max_value=60), st.integers(min_value=0, max_value=2), st.booleans())
def test_offsets_are_exact_for_any_text(text: str, max_tokens: int, overlap: int, title: bool) -> None:
    _check(text, max_tokens, overlap, title)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(PIECES), st.integers(min_value=2, max_value=30))
def test_repeated_text_keeps_distinct_offsets(piece: str, times: int) -> None:
    text = ((piece + " ") * times).strip() or "x"
    _check(text, 12, 1, False)
    doc = Document("d.txt", text, "0" * 64)
    plan = plan_chunks(doc, FAKE.count_tokens, FAKE.cut_points, 12, 1, False)
    starts = [s.start for s in plan.sentences]
    assert starts == sorted(set(starts))


def test_paragraphs_split_on_blank_lines_including_crlf() -> None:
    text = "One.\r\n\r\nTwo.\n   \nThree.\nstill three."
    spans = paragraph_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["One.", "Two.", "Three.\nstill three."]


def test_sentences_of_the_seed_article_are_whole() -> None:
    text = SEED_FILE.read_text(encoding="utf-8")
    para = paragraph_spans(text)[4]
    sents = [text[s.start : s.end] for s in sentence_spans(text, para)]
    assert sents[0].startswith("The Pentagon confirmed the attack")
    assert sents[1] == (
        "Ten of those hit a base in western Iraq, one hit a base in Irbil in northern Iraqi Kurdistan, "
        "and four failed mid-flight."
    )


def test_real_tokenizer_limit_holds_on_long_text(embedder) -> None:  # type: ignore[no-untyped-def]
    """With the real word-piece tokenizer, no chunk input exceeds the limit, even a run-on sentence."""
    seed = SEED_FILE.read_text(encoding="utf-8")
    text = seed + "\n\n" + ("word " * 900) + "end.\n\n" + seed
    doc = Document("long.txt", text, "0" * 64)
    plan = plan_chunks(doc, embedder.count_tokens, embedder.cut_points, embedder.max_tokens, 1, True)
    counts = embedder.count_tokens(list(plan.embed_inputs))
    assert max(counts) <= embedder.max_tokens
    assert all(text[c.start : c.end] == c.text for c in plan.chunks)
    assert len(plan.chunks) > 10
