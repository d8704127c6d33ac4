"""Read one published generation: vectors, BM25, and the SQLite tables behind them."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .errors import IndexCorrupt
from .lexical import LexicalIndex
from .vectors import load_index

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class ChunkRow:
    chunk_id: int
    doc_id: int
    source: str
    start: int
    end: int
    sent_lo: int
    sent_hi: int


@dataclass(frozen=True, slots=True)
class SentenceRow:
    sentence_id: int
    doc_id: int
    start: int
    end: int


class IndexReader:
    """Everything one generation holds, opened read-only (shared safely between threads)."""

    def __init__(self, generation: store.Generation) -> None:
        import numpy as np

        self.generation = generation
        path = generation.path
        try:
            self.vectors = load_index(path / store.VECTORS)
            self.lexical = LexicalIndex.load(path / store.BM25_DIR)
            self.sentence_vectors: np.ndarray = np.load(
                path / store.SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False
            )
            self._conn = store.connect(path / store.META)
            # The last chunk id, not count(*): one b-tree descent instead of a scan of every row
            # (20 ms of a cold `qabot ask` at 1M chunks); ids are 0..n-1, checked below.
            last_chunk = self._conn.execute("SELECT max(id) FROM chunks").fetchone()[0]
        except Exception as exc:  # damaged files fail in each library's own way
            # (numpy parses a garbled .npy header as Python: SyntaxError; FAISS: RuntimeError)
            raise IndexCorrupt(
                f"Index generation {path.name} is damaged ({type(exc).__name__}); {store.REBUILD_HINT}."
            ) from exc
        counts = generation.manifest.get("counts", {})
        chunks, sentences = counts.get("chunks"), counts.get("sentences")
        stored = 0 if last_chunk is None else last_chunk + 1
        if self.vectors.ntotal != chunks or stored != chunks or len(self.sentence_vectors) != sentences:
            raise IndexCorrupt(f"Index generation {path.name} has inconsistent counts; {store.REBUILD_HINT}.")
        self._lock = threading.Lock()
        self._texts: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._pages: OrderedDict[str, tuple[int, ...]] = OrderedDict()

    @property
    def path(self) -> Path:
        return self.generation.path

    @property
    def manifest(self) -> dict[str, Any]:
        return self.generation.manifest

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:  # a page damaged after the index was opened
                raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> IndexCorrupt:
        name = type(exc).__name__
        return IndexCorrupt(f"Index generation {self.path.name} is damaged ({name}); {store.REBUILD_HINT}.")

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f'SELECT c.id, c.doc_id, d.source, c.start, c."end", c.sent_lo, c.sent_hi '
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
            [int(i) for i in ids],
        )
        return {r[0]: ChunkRow(*r) for r in rows}

    def sentences(self, lo: int, hi: int) -> list[SentenceRow]:
        rows = self._query(
            'SELECT id, doc_id, start, "end" FROM sentences WHERE id >= ? AND id < ? ORDER BY id', (lo, hi)
        )
        return [SentenceRow(*r) for r in rows]

    def document(self, doc_id: int) -> tuple[str, str]:
        """(source, text) of a document, from a small LRU cache."""
        with self._lock:
            hit = self._texts.get(doc_id)
            if hit is not None:
                self._texts.move_to_end(doc_id)
                return hit
            try:
                row = self._conn.execute("SELECT source, text FROM documents WHERE id = ?", (doc_id,)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from exc
            if row is None:
                raise IndexCorrupt(f"Index generation {self.path.name} lost document {doc_id}; {store.REBUILD_HINT}.")
            self._texts[doc_id] = (row[0], row[1])
            if len(self._texts) > 256:
                self._texts.popitem(last=False)
            return row[0], row[1]

    def page_starts(self, source: str) -> tuple[int, ...]:
        """Where each page of a PDF source begins in its text; () for other formats (and older indexes)."""
        with self._lock:
            hit = self._pages.get(source)
            if hit is not None:
                return hit
            try:
                rows = self._conn.execute(
                    "SELECT p.start FROM pages p JOIN documents d ON d.id = p.doc_id "
                    "WHERE d.source = ? ORDER BY p.page",
                    (source,),
                ).fetchall()
            except sqlite3.OperationalError:  # an index built before pages were recorded
                rows = []
            starts = tuple(int(r[0]) for r in rows)
            self._pages[source] = starts
            if len(self._pages) > 256:
                self._pages.popitem(last=False)
            return starts

    def document_text(self, source: str) -> str | None:
        """The stored text of a source (what its offsets index), or None when it is not indexed."""
        rows = self._query("SELECT text FROM documents WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    def chunk_vector(self, chunk_id: int) -> np.ndarray:
        return self.vectors.reconstruct(int(chunk_id))

    def sources(self) -> list[str]:
        return [r[0] for r in self._query("SELECT source FROM documents ORDER BY id", ())]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
