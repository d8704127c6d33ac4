"""The real embedder: chunk vectors from the one-pass build equal plain `embed`; sentence spans pool sensibly."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # the real model


def _float32(embedder):  # type: ignore[no-untyped-def]
    """The session's model run in float32: exact comparisons, whatever the CPU."""
    return embedder.with_precision("float32")


def test_one_pass_gives_the_same_chunk_vectors_and_sentence_vectors(embedder) -> None:  # type: ignore[no-untyped-def]
    embedder = _float32(embedder)
    texts = [
        "Iran Retaliates\nTen of those hit a base in western Iraq. Four failed mid-flight.",
        "Cats sleep sixteen hours a day. They purr when content.",
        "Ünïcödé — naïve café! 15 missiles, 4 failed.",
    ]
    spans = [[(16, 56), (57, 81)], [(0, 31), (32, 55)], [(0, 22)]]
    assert texts[0][16:56] == "Ten of those hit a base in western Iraq."
    chunk_vecs, span_vecs = embedder.embed_with_spans(texts, spans, batch_size=2)
    plain = embedder.embed(texts)
    assert np.allclose(chunk_vecs, plain, atol=1e-4)
    assert span_vecs.shape == (5, embedder.dim)
    assert np.allclose(np.linalg.norm(span_vecs, axis=1), 1.0, atol=1e-4)
    alone = embedder.embed([texts[i][a:b] for i, ss in enumerate(spans) for a, b in ss])
    cos = np.sum(span_vecs * alone, axis=1)
    assert (cos > 0.6).all(), cos  # the sentence read in context stays close to the sentence alone
    # ...and closer to its own standalone vector than to its neighbour's.
    assert float(span_vecs[0] @ alone[0]) > float(span_vecs[0] @ alone[1])
    assert float(span_vecs[2] @ alone[2]) > float(span_vecs[2] @ alone[3])


def test_bfloat16_build_vectors_agree_with_float32(embedder) -> None:  # type: ignore[no-untyped-def]
    """The build's bfloat16 autocast (where the CPU has it) changes no vector that matters."""
    from qabot.embedder import native_bfloat16
    from tests.conftest import SEED_FILE

    text = SEED_FILE.read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()][:12]
    spans = [[(0, len(p) // 2), (len(p) // 2, len(p))] for p in paragraphs]
    fp32 = _float32(embedder)
    bf16 = embedder.with_precision("bfloat16")  # one model in memory; precision is per call
    assert fp32.precision == "float32" and bf16.precision == "bfloat16"
    assert embedder.precision == ("bfloat16" if native_bfloat16() else "float32")
    a_chunks, a_spans = fp32.embed_with_spans(paragraphs, spans)
    b_chunks, b_spans = bf16.embed_with_spans(paragraphs, spans)
    assert a_chunks.dtype == b_chunks.dtype == np.float32
    for a, b in ((a_chunks, b_chunks), (a_spans, b_spans), (fp32.embed(paragraphs), bf16.embed(paragraphs))):
        cos = np.sum(a * b, axis=1)
        assert cos.min() >= 0.999, cos
        assert not np.array_equal(a, b) or not native_bfloat16()  # bf16 really ran
