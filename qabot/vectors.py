"""FAISS side of retrieval: pick an index type by size, build it, load it memory-mapped.

Vectors are L2-normalized, so inner product is cosine similarity. Up to
EXACT_LIMIT vectors an exact flat index is both fast and perfect; past it an IVF
index with 8-bit scalar quantization keeps 1M vectors under 450 MB while staying
above 0.95 recall@10 (see docs/ and `qabot bench`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

EXACT_LIMIT = 200_000
IVF_NPROBE = 24


def index_kind(n: int) -> str:
    """The FAISS factory string qabot uses for n vectors."""
    if n <= EXACT_LIMIT:
        return "Flat"
    nlist = int(4 * n**0.5)
    return f"IVF{nlist},SQ8"


def build_index(vectors: np.ndarray, kind: str | None = None) -> Any:
    """A FAISS inner-product index over `vectors` (row i gets id i)."""
    import faiss
    import numpy as np

    n, dim = vectors.shape
    kind = kind or index_kind(n)
    index = faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(n, size=min(n, 100_000), replace=False)] if n > 100_000 else vectors
        old = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = 20  # BLAS for training batches (10x faster)
        try:
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        finally:
            faiss.cvar.distance_compute_blas_threshold = old
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_index(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_index(path: Path) -> Any:
    """Read an index memory-mapped and read-only where FAISS supports it."""
    import faiss

    # IO_FLAG_MMAP maps IVF inverted lists; IO_FLAG_MMAP_IFC (faiss >= 1.10) maps the codes of
    # flat indexes too, so a loaded index costs page cache shared between processes, not heap.
    flags = faiss.IO_FLAG_MMAP | getattr(faiss, "IO_FLAG_MMAP_IFC", 0) | faiss.IO_FLAG_READ_ONLY
    try:
        index = faiss.read_index(str(path), flags)
    except RuntimeError:
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            index = faiss.read_index(str(path))
    if hasattr(index, "nprobe"):
        index.nprobe = IVF_NPROBE
    else:
        ivf = _ivf(index)
        if ivf is not None:
            ivf.nprobe = IVF_NPROBE
    return index


def _ivf(index: Any) -> Any:
    import faiss

    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def search(index: Any, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (ids, cosines) for one normalized query vector, best first, no padding."""
    import numpy as np

    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    import faiss

    # One query: one OpenMP thread. With two threads on a busy 2-core machine a 20k flat search
    # took 16 ms instead of 1 ms (threads spinning for each other). The setting is per calling
    # thread, so it is restored for builds that run later on the same thread.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
