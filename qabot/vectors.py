"""FAISS side of retrieval: pick an index type by size, build it, load it memory-mapped.

Vectors are L2-normalized, so inner product is cosine similarity. Measured with
`python -m benchmarks` on real MiniLM vectors of Wikipedia text (docs/performance.md):

- up to EXACT_LIMIT (100k) an exact flat index: perfect, and one query scans 150 MB (twice that
  would take the whole search budget);
- past it IVF{4*sqrt(n)},SQ8: 8-bit scalar codes (392 B/vector, 1M vectors in ~400 MB),
  encoded directly rather than as residuals to the centroid (recall@10 0.970 against 0.964 with
  residuals at 1M, and faster), with nprobe = max(64, nlist/32) lists searched (0.95 needs
  ~3 % of the lists on this data; 24 gave 0.94).

HNSW was not chosen: its links cost ~256 B/vector on top of the codes (1M HNSW32,SQ8 ~650 MB,
over the 450 MB budget) and it is far slower to build.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

EXACT_LIMIT = 100_000
MIN_NPROBE = 64


def nprobe_for(nlist: int) -> int:
    """IVF lists searched per query for an index with nlist lists."""
    return min(nlist, max(MIN_NPROBE, nlist // 32))


def index_kind(n: int) -> str:
    """The FAISS factory string qabot uses for n vectors."""
    if n <= EXACT_LIMIT:
        return "Flat"
    nlist = int(4 * n**0.5)
    return f"IVF{nlist},SQ8"


def build_index(vectors: np.ndarray, kind: str | None = None) -> Any:
    """A FAISS inner-product index over `vectors` (row i gets id i)."""
    import numpy as np

    n = len(vectors)

    def rows(picked: np.ndarray) -> np.ndarray:
        return np.asarray(vectors[picked], dtype=np.float32)

    def blocks() -> Iterator[np.ndarray]:
        if n:
            yield np.asarray(vectors, dtype=np.float32)

    return _build(n, vectors.shape[1], kind or index_kind(n), rows, blocks)


ADD_BLOCK = 65_536  # vectors read from disk and added to the index at a time


def build_index_from_file(path: Path, n: int, dim: int, kind: str | None = None) -> Any:
    """The same index as `build_index`, over n float16 rows stored raw in `path`.

    The file is read a block at a time (never memory-mapped, so it costs no resident memory):
    the memory taken is the index itself and the k-means training sample.
    """
    import numpy as np

    row_bytes = dim * 2

    def read(handle: Any, lo: int, count: int) -> np.ndarray:
        handle.seek(lo * row_bytes)
        return np.frombuffer(handle.read(count * row_bytes), dtype=np.float16).reshape(count, dim)

    def rows(picked: np.ndarray) -> np.ndarray:
        out = np.empty((len(picked), dim), dtype=np.float32)
        order = np.argsort(picked, kind="stable")
        ordered = picked[order]
        with open(path, "rb") as handle:
            for lo in range(0, n, ADD_BLOCK):
                a, b = np.searchsorted(ordered, [lo, min(n, lo + ADD_BLOCK)])
                if a < b:
                    out[order[a:b]] = read(handle, lo, min(ADD_BLOCK, n - lo))[ordered[a:b] - lo]
        return out

    def blocks() -> Iterator[np.ndarray]:
        with open(path, "rb") as handle:
            for lo in range(0, n, ADD_BLOCK):
                yield read(handle, lo, min(ADD_BLOCK, n - lo)).astype(np.float32)

    return _build(n, dim, kind or index_kind(n), rows, blocks)


def _build(
    n: int, dim: int, kind: str, rows: Callable[[np.ndarray], np.ndarray], blocks: Callable[[], Iterator[np.ndarray]]
) -> Any:
    """Train (on a fixed-seed sample of `rows`) and fill (from `blocks`, in row order) an index."""
    import faiss
    import numpy as np

    index = faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)
    ivf = _ivf(index)
    if ivf is not None and "SQ" in kind:
        ivf.by_residual = False  # see the module docstring
    if not index.is_trained:
        rng = np.random.default_rng(0)
        want = max(100_000, 40 * ivf.nlist) if ivf is not None else 100_000  # k-means wants ~39 points/list
        picked = rng.choice(n, size=want, replace=False) if n > want else np.arange(n)
        sample = rows(picked)
        old = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = 20  # BLAS for training batches (much faster)
        try:
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        finally:
            faiss.cvar.distance_compute_blas_threshold = old
        del sample
    for block in blocks():
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    if ivf is not None:
        # reconstruct(id), which the retriever uses to drop near-duplicates, needs the id -> list
        # map, which IVF indexes do not keep by themselves. Made here, it is written into the index
        # file (8 bytes a vector) and read back with it, instead of walking every list at each open.
        ivf.make_direct_map()
    return index


class NpyWriter:
    """Append rows to a .npy file whose length is only known at the end (no copy, no mmap).

    A fixed-size header is reserved first and written when the file is closed.
    """

    HEADER_BYTES = 128

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype: Any) -> None:
        import numpy as np

        self.path = path
        self.row_shape = row_shape
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._handle.write(b"\0" * self.HEADER_BYTES)

    def append(self, rows: np.ndarray) -> None:
        import numpy as np

        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]}, expected {self.row_shape}")
        self._handle.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.rows += len(rows)

    def close(self) -> None:
        import io

        import numpy as np

        buf = io.BytesIO()
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, *self.row_shape)}  # fmt: skip
        np.lib.format.write_array_header_1_0(buf, header)
        head = buf.getvalue()
        if len(head) > self.HEADER_BYTES:
            raise ValueError(f"npy header of {len(head)} bytes does not fit")
        # Pad the dict with spaces to the reserved size (the format allows it; the newline stays last).
        head = head[:-1] + b" " * (self.HEADER_BYTES - len(head)) + b"\n"
        head = head[:8] + (self.HEADER_BYTES - 10).to_bytes(2, "little") + head[10:]
        self._handle.seek(0)
        self._handle.write(head)
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()


def save_index(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_index(path: Path) -> Any:
    """Read an index memory-mapped and read-only where FAISS supports it."""
    import faiss

    # IO_FLAG_MMAP maps IVF inverted lists; IO_FLAG_MMAP_IFC (faiss >= 1.10) maps the codes of
    # flat indexes too, so a loaded index costs page cache shared between processes, not heap.
    mapped = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY
    attempts = [mapped | getattr(faiss, "IO_FLAG_MMAP_IFC", 0), mapped, 0]
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        if handle.read(2) == b"Iw":  # an IVF kind ("IwSq"): its lists map without IFC, which it
            attempts = attempts[1:]  # refuses only after reading the quantizer (~7 ms at 1M chunks)
    for attempt in attempts:
        try:
            index = faiss.read_index(str(path), attempt)
            break
        except RuntimeError:
            if attempt == attempts[-1]:
                raise
    ivf = _ivf(index)
    if ivf is not None:
        ivf.nprobe = nprobe_for(ivf.nlist)
        if not ivf.direct_map.type:  # an index written before the build stored its id -> list map
            ivf.make_direct_map()
    return index


def _ivf(index: Any) -> Any:
    """The IndexIVF inside `index`, or None for other kinds."""
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

    # One query: one OpenMP thread. With two threads on a busy machine a small flat search took
    # many times longer (threads spinning for each other). The setting is per calling
    # thread, so it is restored for builds that run later on the same thread.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
