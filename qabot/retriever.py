"""Dense (FAISS) and lexical (BM25) search fused by reciprocal rank, near-duplicates removed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.base import IndexView
from .lexical import identifiers
from .records import Hit
from .vectors import search as vector_search

if TYPE_CHECKING:
    import numpy as np

    from .settings import Settings


@dataclass(frozen=True, slots=True)
class FusionParams:
    """How retrieval fuses and filters; the values (and their defaults) come from Settings."""

    candidates: int
    rrf_k: int
    dense_weight: float
    lexical_weight: float
    near_duplicate: float
    keep_tops: bool

    @classmethod
    def from_settings(cls, s: Settings) -> FusionParams:
        return cls(s.candidates, s.rrf_k, s.dense_weight, s.lexical_weight, s.near_duplicate, s.keep_retriever_tops)


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: sum of weight / (k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, doc in enumerate(ids, start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return fused


def with_tops_kept(order: list[int], tops: Sequence[int], n: int) -> list[int]:
    """`order` with each retriever's first chunk moved up to place n (when fusion put it lower).

    A passage BM25 ranks first by far but the dense search misses (or the reverse) is not
    outvoted by passages both found moderately: "what order are the strokes swum in a medley
    relay" (docs/quality.md #47).
    """
    order = list(order)
    for top in tops:
        if top in order[n - 1 :]:
            order.remove(top)
            order.insert(n - 1, top)
    return order


def exact_identifiers_first(reader: IndexView, query: str, order: list[int], fused: dict[int, float]) -> list[int]:
    """`order` with the chunks holding the query's identifiers ("WOMBAT22", "E1234") first: those
    holding more of them first, then in fused order. The dense model reads "WOMBAT22" and
    "WOMBAT6" as nearly the same; an exact code is the strongest evidence there is.

    Needs the BM25 postings (`chunks_with`): a backend without them keeps the fused order."""
    chunks_with = getattr(reader.lexical, "chunks_with", None)
    wanted = [ids for stem in identifiers(query) if chunks_with is not None and len(ids := chunks_with(stem))]
    if not wanted:
        return order
    held: dict[int, int] = {}
    for ids in wanted:
        for cid in ids.tolist():
            held[cid] = held.get(cid, 0) + 1
    for cid in held:
        fused.setdefault(cid, 0.0)  # a chunk neither search ranked high enough: still first
    first = sorted(held, key=lambda cid: (-held[cid], -fused[cid], cid))
    return first + [cid for cid in order if cid not in held]


def lexical_in_background(reader: IndexView, query: str, k: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """Start `reader.lexical.search(query, k)` in a background thread; the returned function waits
    for its result (and raises what it raised). The folder's BM25 is numpy over memory-mapped
    arrays, so it runs beside the question's embedding; another backend's search runs when asked,
    in the caller."""
    from .background import submit
    from .lexical import LexicalIndex

    lexical = reader.lexical
    if not isinstance(lexical, LexicalIndex):
        return lambda: lexical.search(query, k)
    return submit(lexical.search, query, k)


def retrieve(
    reader: IndexView,
    query: str,
    query_vec: np.ndarray,
    n: int,
    params: FusionParams,
    lexical_found: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Hit]:
    """The n best distinct chunks for a query, best first. `lexical_found`: the BM25 search's result
    (`reader.lexical.search(query, params.candidates)`) when it was run already."""
    dense_ids, dense_scores = vector_search(reader.vectors, query_vec, params.candidates)
    found = lexical_found if lexical_found is not None else reader.lexical.search(query, params.candidates)
    lex_ids, lex_scores = found
    dense = {int(i): float(s) for i, s in zip(dense_ids, dense_scores, strict=True)}
    lexical = {int(i): float(s) for i, s in zip(lex_ids, lex_scores, strict=True)}
    fused = rrf(
        [([int(i) for i in dense_ids], params.dense_weight), ([int(i) for i in lex_ids], params.lexical_weight)],
        params.rrf_k,
    )
    order = sorted(fused, key=lambda cid: (-fused[cid], cid))
    if params.keep_tops:
        order = with_tops_kept(order, [int(ids[0]) for ids in (dense_ids, lex_ids) if len(ids)], n)
    order = exact_identifiers_first(reader, query, order, fused)
    rows = reader.chunks(order[: max(n * 3, n + 10)])
    hits: list[Hit] = []
    kept_vectors: list[np.ndarray] = []
    seen_texts: set[str] = set()
    for cid in order:
        row = rows.get(cid)
        if row is None:
            continue
        source, text = reader.document(row.doc_id)
        chunk_text = text[row.start : row.end]
        key = " ".join(chunk_text.lower().split())
        if key in seen_texts:
            continue
        vec = reader.chunk_vector(cid)
        if any(float(vec @ other) >= params.near_duplicate for other in kept_vectors):
            continue
        seen_texts.add(key)
        kept_vectors.append(vec)
        cos = dense.get(cid)
        if cos is None:
            cos = float(vec @ query_vec)
        hits.append(Hit(cid, source, row.start, row.end, chunk_text, cos, lexical.get(cid, 0.0), fused[cid]))
        if len(hits) >= n:
            break
    return hits
