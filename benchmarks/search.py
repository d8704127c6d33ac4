"""Benchmark helper: vector search at 100k and 1M vectors with the index type qabot picks.

Vectors are real MiniLM embeddings of Wikipedia text (the chunk and sentence vectors of a
built qabot index), repeated with small perturbations to reach the size asked for: every
copy after the first is normalize(v + a*w + noise), with w another real vector, a drawn in
[0, 0.15) and Gaussian noise of norm ~0.1, so the copies stay on the manifold of real text
(random vectors say nothing about ANN recall). Queries are real too: the hand-written
questions of eval/*.jsonl embedded by the model, plus held-out sentence vectors that are
not in the database. Recall@10 is measured against exact inner-product search (IndexFlatIP)
over the same vectors; latency is one query at a time, as `qabot ask` searches.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qabot import store, vectors

from . import proc as bench_proc
from .corpus import percentile

MIX = 0.15
NOISE = 0.1


def real_vectors(index_dir: Path) -> np.ndarray:
    """All chunk and sentence vectors of the index in use, float32, one row each."""
    import faiss

    gen = store.open_generation(index_dir)
    index = faiss.read_index(str(gen.path / store.VECTORS))
    if index.ntotal and isinstance(index, faiss.IndexFlat):
        chunks = index.reconstruct_n(0, index.ntotal)
    else:
        chunks = np.stack([index.reconstruct(i) for i in range(index.ntotal)]) if index.ntotal else None
    sentences = np.load(gen.path / store.SENTENCE_VECTORS, allow_pickle=False).astype(np.float32)
    parts = [p for p in (chunks, sentences) if p is not None and len(p)]
    return np.ascontiguousarray(np.concatenate(parts).astype(np.float32))


def split_queries(base: np.ndarray, n_queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(database base vectors, held-out query vectors)."""
    n_queries = min(n_queries, len(base) // 10)
    order = rng.permutation(len(base))
    return base[order[n_queries:]], base[order[:n_queries]]


def perturbed(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n vectors: base as is, then perturbed copies of it until n rows (see module doc)."""
    dim = base.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    first = min(n, len(base))
    out[:first] = base[:first]
    step = 65_536
    for lo in range(first, n, step):
        hi = min(n, lo + step)
        rows = base[np.arange(lo, hi) % len(base)]
        partner = base[rng.integers(0, len(base), hi - lo)]
        mix = rng.uniform(0.0, MIX, (hi - lo, 1)).astype(np.float32)
        noise = rng.standard_normal((hi - lo, dim), dtype=np.float32) * (NOISE / dim**0.5)
        block = rows + mix * partner + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[lo:hi] = block
    return out


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    old = faiss.cvar.distance_compute_blas_threshold
    faiss.cvar.distance_compute_blas_threshold = 20  # BLAS for the batch (much faster)
    try:
        _, ids = flat.search(queries, k)
    finally:
        faiss.cvar.distance_compute_blas_threshold = old
    return np.asarray(ids)


def measure_size(
    data: np.ndarray,
    queries: np.ndarray,
    k: int = 10,
    kind: str | None = None,
    nprobe: int | None = None,
    n_questions: int = 0,
) -> dict[str, Any]:
    """Build qabot's index for `data`, save, load memory-mapped, search one query at a time."""
    n = len(data)
    kind = kind or vectors.index_kind(n)
    truth = exact_top(data, queries, k)
    began = time.perf_counter()
    index = vectors.build_index(data, kind)
    build_s = time.perf_counter() - began
    with tempfile.TemporaryDirectory(prefix="qabot-bench-") as tmp:
        path = Path(tmp) / "vectors.faiss"
        vectors.save_index(index, path)
        del index
        file_bytes = path.stat().st_size
        rss0 = bench_proc.vm_rss_mb()
        loaded = vectors.load_index(path)
        if nprobe is not None:
            _set_nprobe(loaded, nprobe)
        rss_loaded = bench_proc.vm_rss_mb() - rss0
        for q in queries[:20]:  # warm up
            vectors.search(loaded, q, k)
        times: list[float] = []
        found: list[float] = []
        for q, want in zip(queries, truth, strict=True):
            t0 = time.perf_counter()
            ids, _ = vectors.search(loaded, q, k)
            times.append((time.perf_counter() - t0) * 1000.0)
            found.append(len(set(ids.tolist()) & set(want.tolist())) / k)
        rss_searched = bench_proc.vm_rss_mb() - rss0
        del loaded
    return {
        "n": n,
        "kind": kind,
        "nprobe": nprobe if nprobe is not None else _nprobe(kind),
        "build_s": round(build_s, 2),
        "search_p50_ms": round(percentile(times, 50) or 0.0, 3),
        "search_p95_ms": round(percentile(times, 95) or 0.0, 3),
        "recall_at_10": round(float(np.mean(found)), 4),
        "recall_at_10_questions": round(float(np.mean(found[:n_questions])), 4) if n_questions else None,
        "queries": len(queries),
        "index_mb": round(file_bytes / 1e6, 1),
        "bytes_per_vector": round(file_bytes / max(1, n), 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "rss_after_search_mb": round(rss_searched, 1),
    }


def _nprobe(kind: str) -> int | None:
    if not kind.startswith("IVF"):
        return None
    return vectors.nprobe_for(int(kind[3:].split(",")[0].split("_")[0]))


def _set_nprobe(index: Any, nprobe: int) -> None:
    import faiss

    with contextlib.suppress(RuntimeError):
        faiss.extract_index_ivf(index).nprobe = nprobe


def question_vectors(texts: list[str]) -> np.ndarray:
    """Embed questions with qabot's own embedder (the way `ask` does)."""
    from qabot.embedder import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    return np.stack([emb.embed_query(t) for t in texts]).astype(np.float32)


def measure(
    source_index: Path, sizes: list[int], questions: list[str], n_held_out: int = 300, seed: int = 5
) -> dict[str, Any]:
    """Search figures for every size, from the vectors of `source_index`."""
    rng = np.random.default_rng(seed)
    base, held_out = split_queries(real_vectors(source_index), n_held_out, rng)
    queries = held_out
    if questions:
        queries = np.concatenate([question_vectors(questions), held_out]).astype(np.float32)
    out: dict[str, Any] = {
        "source_vectors": int(len(base) + len(held_out)),
        "queries": len(queries),
        "question_queries": len(questions),
        "threads": os.cpu_count(),
        "sizes": {},
    }
    for n in sizes:
        data = perturbed(base, n, rng)
        out["sizes"][str(n)] = measure_size(data, queries, n_questions=len(questions))
        del data
    return out
