"""Fusion helpers: reciprocal rank fusion and keeping each retriever's first chunk."""

from __future__ import annotations

from qabot.retriever import rrf, with_tops_kept


def test_rrf_weights_ranks() -> None:
    fused = rrf([([1, 2, 3], 2.0), ([3, 9], 1.0)], k=20)
    assert max(fused, key=fused.__getitem__) == 3  # found by both
    assert fused[1] > fused[2] > fused[9]


def test_each_retrievers_first_chunk_stays_among_the_first_n() -> None:
    order = [5, 6, 7, 8, 9, 10, 42]
    assert with_tops_kept(order, [5, 42], 5) == [5, 6, 7, 8, 42, 9, 10]  # 42 moved up to place 5
    assert with_tops_kept(order, [6, 7], 5) == order  # already there: nothing moves
    assert with_tops_kept(order, [99], 5) == order  # not a candidate: nothing to keep
    assert with_tops_kept([1, 2, 3], [3], 5) == [1, 2, 3]
