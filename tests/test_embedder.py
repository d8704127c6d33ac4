"""The real embedder: chunk vectors from the one-pass build equal plain `embed`; sentence spans pool sensibly."""

from __future__ import annotations

import numpy as np


def test_one_pass_gives_the_same_chunk_vectors_and_sentence_vectors(embedder) -> None:  # type: ignore[no-untyped-def]
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
