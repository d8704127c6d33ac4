"""What a build reuses from before: chunk plans of unchanged documents, and cached vectors.

Cutting 10,000 documents into sentences takes seconds (syntok is pure Python); when a
document's bytes and the chunker settings are the same as in the generation in use, its
paragraphs, sentences and chunks are the same too, so an incremental build reads them back
instead of planning them again. The result is identical to `plan_chunks` (tested).

Vectors live in one embedding cache per index folder (`embeddings.sqlite`, beside the
generations): float16 vectors keyed by a hash of the model and the text the model read. It
is committed after every embedded block, in WAL mode, so a build that is killed keeps what it
embedded and the next build resumes instead of embedding it again. Each key records the last
generation that used it; after a build is published, vectors no build since has used are
deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .chunker import TITLE_MAX_CHARS, ChunkPlan
from .records import Chunk, Document, Span

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_BATCH = 500  # keys or sources per SQL `IN (...)`


class PlanReuser:
    """Plans of unchanged documents from a previous generation, looked up a batch at a time."""

    def __init__(self, gen: store.Generation, chunking: dict[str, Any]) -> None:
        self._conn: sqlite3.Connection | None = None
        if gen.manifest.get("chunker") == chunking:
            try:
                self._conn = store.connect(gen.path / store.META)
            except sqlite3.Error:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PlanReuser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def plans(self, docs: list[Document]) -> dict[str, ChunkPlan]:
        """Plans for those of `docs` (a batch in source order) whose bytes are unchanged."""
        if self._conn is None or not docs:
            return {}
        try:
            return self._plans(self._conn, docs)
        except sqlite3.Error:
            return {}

    def _plans(self, conn: sqlite3.Connection, docs: list[Document]) -> dict[str, ChunkPlan]:
        by_source = {d.source: d for d in docs}
        found: list[tuple[int, Document, int, int, int, int]] = []
        sources = list(by_source)
        for lo in range(0, len(sources), _BATCH):
            batch = sources[lo : lo + _BATCH]
            marks = ",".join("?" * len(batch))
            for doc_id, source, sha256, s_lo, s_hi, c_lo, c_hi in conn.execute(
                f"SELECT id, source, sha256, sent_lo, sent_hi, chunk_lo, chunk_hi FROM documents "
                f"WHERE source IN ({marks})",
                batch,
            ):
                doc = by_source[source]
                if doc.sha256 == sha256:
                    found.append((doc_id, doc, s_lo, s_hi, c_lo, c_hi))
        found.sort(key=lambda r: r[0])
        out: dict[str, ChunkPlan] = {}
        # Runs of consecutive documents (both generations are in source order, so a batch is
        # usually one run): one range query each for their sentences and their chunks.
        run: list[tuple[int, Document, int, int, int, int]] = []
        for row in [*found, None]:
            if row is not None and (not run or row[0] == run[-1][0] + 1):
                run.append(row)
                continue
            if run:
                sentences = conn.execute(
                    'SELECT id, start, "end" FROM sentences WHERE id >= ? AND id < ? ORDER BY id',
                    (run[0][2], run[-1][3]),
                ).fetchall()
                chunks = conn.execute(
                    'SELECT id, start, "end", sent_lo, sent_hi, titled FROM chunks '
                    "WHERE id >= ? AND id < ? ORDER BY id",
                    (run[0][4], run[-1][5]),
                ).fetchall()
                s0, c0 = run[0][2], run[0][4]
                for _, doc, s_lo, s_hi, c_lo, c_hi in run:
                    out[doc.source] = _plan(
                        doc, sentences[s_lo - s0 : s_hi - s0], [c[1:] for c in chunks[c_lo - c0 : c_hi - c0]]
                    )
            run = [] if row is None else [row]
        return out


def previous_plans(gen: store.Generation, chunking: dict[str, Any], docs: list[Document]) -> dict[str, ChunkPlan]:
    """Plans for the documents of `docs` whose bytes are unchanged since `gen` was built."""
    with PlanReuser(gen, chunking) as reuser:
        return reuser.plans(sorted(docs, key=lambda d: d.source))


def _plan(
    doc: Document, sent_rows: list[tuple[int, int, int]], chunk_rows: list[tuple[int, int, int, int, int]]
) -> ChunkPlan:
    first = sent_rows[0][0] if sent_rows else 0
    sentences = tuple(Span(a, b) for _, a, b in sent_rows)
    title = doc.title[:TITLE_MAX_CHARS]
    chunks: list[Chunk] = []
    ranges: list[tuple[int, int]] = []
    inputs: list[str] = []
    for start, end, lo, hi, titled in chunk_rows:
        text = doc.text[start:end]
        local = (lo - first, hi - first)
        chunks.append(Chunk(doc.source, start, end, text, sentences[local[0] : local[1]]))
        ranges.append(local)
        inputs.append(f"{title}\n{text}" if titled else text)
    return ChunkPlan(doc, sentences, tuple(chunks), tuple(ranges), tuple(inputs))


# ---- the embedding cache ----------------------------------------------------------------

CACHE_VERSION = 1  # PRAGMA user_version of embeddings.sqlite; another value: the cache is started afresh
_CACHE_SQL = """
CREATE TABLE vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;  -- float16
-- The number of the last generation built with each key, apart from the vectors: marking the
-- keys a build used rewrites this narrow table, not every page of the vectors.
CREATE TABLE used (key BLOB PRIMARY KEY, generation INTEGER NOT NULL) WITHOUT ROWID;
"""


def cache_key(model_id: str, text: str) -> bytes:
    """The cache key of a chunk's vector: what the model read, and which model."""
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).digest()[:16]


def span_key(model_id: str, text: str, start: int, end: int) -> bytes:
    """The cache key of the vector pooled from text[start:end] as read inside `text`."""
    return cache_key(model_id, f"sentence\x00{start}:{end}\x00{text}")


class EmbeddingCache:
    """Float16 vectors by key in `embeddings.sqlite`; one writer at a time (the build lock)."""

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / store.EMBEDDING_CACHE
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:  # a damaged cache: it only saves time, start afresh
            log.warning("Embedding cache %s is unreadable (%s); starting a new one.", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{self.path}{suffix}").unlink()
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version != CACHE_VERSION:
                conn.execute("BEGIN")
                conn.execute("DROP TABLE IF EXISTS vectors")
                conn.execute("DROP TABLE IF EXISTS used")
                conn.executescript(f"{_CACHE_SQL}; PRAGMA user_version = {CACHE_VERSION}")  # commits
        except BaseException:
            conn.close()
            raise
        return conn

    def get(self, keys: Iterable[bytes], generation: int) -> dict[bytes, np.ndarray]:
        """The cached vectors of `keys`, marked as used by `generation`."""
        import numpy as np

        wanted = list(dict.fromkeys(keys))
        found: dict[bytes, np.ndarray] = {}
        for lo in range(0, len(wanted), _BATCH):
            batch = wanted[lo : lo + _BATCH]
            marks = ",".join("?" * len(batch))
            for key, blob in self._conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float16)
        self._mark(sorted(found), generation)
        return found

    def put(self, vectors: dict[bytes, np.ndarray], generation: int) -> None:
        """Store float16 vectors and commit: from here on, a killed build keeps them."""
        keys = sorted(vectors)  # key order: the B-tree grows at its end instead of splitting pages
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?)", ((k, vectors[k].tobytes()) for k in keys))
        self._conn.executemany("INSERT OR REPLACE INTO used VALUES (?,?)", ((k, generation) for k in keys))
        self._conn.execute("COMMIT")

    def _mark(self, keys: list[bytes], generation: int) -> None:
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT OR REPLACE INTO used VALUES (?,?)", ((k, generation) for k in keys))
        self._conn.execute("COMMIT")

    def prune(self, generation: int) -> None:
        """Drop the vectors no build since `generation` began has used (after it was published)."""
        self._conn.execute("BEGIN")
        self._conn.execute(
            "DELETE FROM vectors WHERE key IN (SELECT key FROM used WHERE generation < ?)", (generation,)
        )
        self._conn.execute("DELETE FROM used WHERE generation < ?", (generation,))
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def __len__(self) -> int:
        (n,) = self._conn.execute("SELECT count(*) FROM vectors").fetchone()
        return int(n)

    def close(self) -> None:
        self._conn.close()
