"""Read one generation held in Milvus: the IndexView the engine asks questions through.

Per question: one dense search, one BM25 search (on the server where it has full-text search),
one query for the chunks answers are drawn from, one for the documents they cite (cached), and
one for the document frequencies of the question's words (cached). Everything else (fusion,
sentence choice, abstention) runs in qabot exactly as on the folder backend, on the same ids,
vectors and word statistics, so both backends give the same answers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import store
from ..errors import IndexCorrupt, IndexMismatch, IndexMissing
from ..lexical import LexicalIndex, tokenize
from ..reader import ChunkRow, SentenceRow
from ..settings import Settings
from . import milvus_layout as layout
from .milvus_client import call, connect, where
from .milvus_publish import current_collection, read_manifest, refuse_foreign

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

REBUILD = "run `qabot index build --full`"
CACHE_CHUNKS = 4096
CACHE_DOCS = 256


class MilvusIndex:
    """The generation the alias names, opened read-only; safe to share between threads."""

    def __init__(self, settings: Settings, model: str) -> None:
        self._settings = settings
        self._client = connect(settings)
        collection = current_collection(settings, self._client)
        refuse_foreign(settings, self._client, collection)
        if collection is None:
            raise IndexMissing(
                f"No index in {where(settings)} (alias {settings.milvus_collection!r}): run `qabot index build`."
            )
        manifest = read_manifest(settings, self._client, collection)
        if manifest is None or manifest.get("milvus", {}).get("layout") is None:
            raise IndexMismatch(
                f"Collection {collection!r} in {where(settings)} has no qabot manifest (incomplete): {REBUILD}, "
                "or choose another QABOT_MILVUS_COLLECTION."
            )
        if manifest.get("schema") != store.SCHEMA_VERSION or manifest["milvus"]["layout"] != layout.LAYOUT_VERSION:
            raise IndexMismatch(
                f"Collection {collection!r} in {where(settings)} has another qabot schema "
                f"({manifest.get('schema')}/{manifest['milvus']['layout']}); {REBUILD}."
            )
        built_with = manifest.get("embedder", {}).get("model")
        if built_with != model:
            raise IndexMismatch(
                f"Collection {collection!r} in {where(settings)} was built with model {built_with!r} but the "
                f"settings ask for {model!r}; {REBUILD} (or set QABOT_MODEL={built_with!r})."
            )
        self.collection = collection
        self._meta = layout.meta_collection(collection)
        call(settings, lambda: self._client.load_collection(collection))
        self._generation = store.Generation(Path(collection), manifest)
        counts = manifest.get("counts", {})
        self._n_chunks = int(counts.get("chunks", 0))
        self._n_sentences = int(counts.get("sentences", 0))
        self._lock = threading.Lock()
        self._rows: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._sentences: OrderedDict[int, tuple[int, int, int, Any]] = OrderedDict()
        self._docs: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._pages: OrderedDict[int, tuple[int, ...]] = OrderedDict()
        self._by_id: list[str] = list(manifest["milvus"].get("documents", []))
        self._ids = {source: i for i, source in enumerate(self._by_id)}
        self._dense = _DenseSearch(self)
        self._lexical = _Lexical(self, bool(manifest["milvus"].get("full_text")))
        self._sentence_vectors = _SentenceVectors(self)

    # ---- IndexView --------------------------------------------------------------------
    @property
    def generation(self) -> store.Generation:
        return self._generation

    @property
    def manifest(self) -> dict[str, Any]:
        return self._generation.manifest

    @property
    def vectors(self) -> _DenseSearch:
        return self._dense

    @property
    def lexical(self) -> _Lexical:
        return self._lexical

    @property
    def sentence_vectors(self) -> _SentenceVectors:
        return self._sentence_vectors

    @property
    def client(self) -> Any:
        """The connection this view reads through (also asked which generation is current)."""
        return self._client

    @property
    def bm25(self) -> str:
        """How BM25 runs: 'milvus' (the server's function), 'local' (the folder's arrays) or 'off'."""
        return self._lexical.mode

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]:
        rows = self._chunk_rows(ids)
        self._prefetch_documents({int(r["doc_id"]) for r in rows.values()})
        return {
            cid: ChunkRow(cid, int(r["doc_id"]), r["source"], int(r["span_start"]), int(r["span_end"]),
                          int(r["sent_lo"]), int(r["sent_hi"]))
            for cid, r in rows.items()
        }  # fmt: skip

    def sentences(self, lo: int, hi: int) -> list[SentenceRow]:
        with self._lock:
            found = [self._sentences.get(i) for i in range(lo, hi)]
        if any(f is None for f in found):
            self._load_sentences(lo, hi)
            with self._lock:
                found = [self._sentences.get(i) for i in range(lo, hi)]
        return [SentenceRow(i, f[0], f[1], f[2]) for i, f in zip(range(lo, hi), found, strict=True) if f is not None]

    def document(self, doc_id: int) -> tuple[str, str]:
        with self._lock:
            hit = self._docs.get(doc_id)
        if hit is None:
            self._prefetch_documents({doc_id})
            with self._lock:
                hit = self._docs.get(doc_id)
        if hit is None:
            raise IndexCorrupt(f"{where(self._settings)} lost document {doc_id} of {self.collection}; {REBUILD}.")
        return hit

    def chunk_vector(self, chunk_id: int) -> np.ndarray:
        import numpy as np

        row = self._chunk_rows([chunk_id]).get(int(chunk_id))
        if row is None:
            raise IndexCorrupt(f"{where(self._settings)} lost chunk {chunk_id} of {self.collection}; {REBUILD}.")
        return np.asarray(row["vector"], dtype=np.float32)

    def sources(self) -> Sequence[str]:
        return list(self._by_id)

    def document_text(self, source: str) -> str | None:
        """The stored text of a source (what its offsets index), or None when it is not indexed."""
        doc_id = self._ids.get(source)
        return None if doc_id is None else self.document(doc_id)[1]

    def page_starts(self, source: str) -> tuple[int, ...]:
        """Where each page of a PDF source begins in its text; () for other formats."""
        doc_id = self._ids.get(source)
        if doc_id is None:
            return ()
        with self._lock:
            hit = self._pages.get(doc_id)
        if hit is None:
            rows = self.query(self._meta, f"key == {layout.quote(f'p:{doc_id}')}", ["value"], limit=1)
            hit = tuple(int(x) for x in json.loads(rows[0]["value"])) if rows else ()
            with self._lock:
                self._pages[doc_id] = hit
                if len(self._pages) > CACHE_DOCS:
                    self._pages.popitem(last=False)
        return hit

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a client whose server went away
            self._client.close()

    # ---- the server -------------------------------------------------------------------
    def search(self, field: str, data: list[Any], k: int, metric: str) -> list[tuple[int, float]]:
        params: dict[str, Any] = {"metric_type": metric}
        if metric == "IP":
            params["params"] = {"ef": max(layout.HNSW_EF, k)}
        result = call(
            self._settings,
            lambda: self._client.search(
                self.collection, data=data, anns_field=field, limit=k, output_fields=["id"], search_params=params
            ),
        )
        return [(int(h["id"]), float(h["distance"])) for h in result[0]]

    def query(self, collection: str, filter_: str, fields: list[str], limit: int = 16384) -> list[dict[str, Any]]:
        return list(
            call(
                self._settings,
                lambda: self._client.query(collection, filter=filter_, output_fields=fields, limit=limit),
            )
        )

    @property
    def meta(self) -> str:
        return self._meta

    def _chunk_rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        import numpy as np

        wanted = [int(i) for i in dict.fromkeys(ids)]
        with self._lock:
            out = {i: self._rows[i] for i in wanted if i in self._rows}
        missing = [i for i in wanted if i not in out]
        if missing:
            fetched = self.query(self.collection, f"id in {missing}", layout.CHUNK_FIELDS, limit=len(missing))
            with self._lock:
                for row in fetched:
                    cid = int(row["id"])
                    sents = json.loads(row["sentences"])
                    blob = base64.b64decode(row["sentence_vectors"])
                    vecs: Any = np.frombuffer(blob, dtype=np.float16).reshape(len(sents), -1) if sents else []
                    for (sid, start, end), vec in zip(sents, vecs, strict=True):
                        self._sentences[int(sid)] = (int(row["doc_id"]), int(start), int(end), vec)
                    while len(self._sentences) > 8 * CACHE_CHUNKS:
                        self._sentences.popitem(last=False)
                    slim = {k: v for k, v in row.items() if k not in ("sentences", "sentence_vectors")}
                    self._rows[cid] = slim
                    out[cid] = slim
                while len(self._rows) > CACHE_CHUNKS:
                    self._rows.popitem(last=False)
        return out

    def _load_sentences(self, lo: int, hi: int) -> None:
        rows = self.query(self.collection, f"sent_lo < {hi} and sent_hi > {lo}", ["id"], limit=64)
        self._chunk_rows([int(r["id"]) for r in rows])

    def _prefetch_documents(self, doc_ids: set[int]) -> None:
        with self._lock:
            missing = sorted(d for d in doc_ids if d not in self._docs)
        if not missing:
            return
        groups = [layout.quote(f"d:{d}") for d in missing]
        rows = self.query(self._meta, f"grp in [{', '.join(groups)}]", ["grp", "num", "value"])
        pieces: dict[int, list[tuple[int, str]]] = {}
        for r in rows:
            pieces.setdefault(int(r["grp"][2:]), []).append((int(r["num"]), r["value"]))
        with self._lock:
            for doc_id, parts in pieces.items():
                source = self._source_of(doc_id)
                self._docs[doc_id] = (source, "".join(v for _, v in sorted(parts)))
            while len(self._docs) > CACHE_DOCS:
                self._docs.popitem(last=False)

    def _source_of(self, doc_id: int) -> str:
        return self._by_id[doc_id] if 0 <= doc_id < len(self._by_id) else ""


class _DenseSearch:
    """Chunk vectors on the server, searched like a faiss index (what `vectors.search` calls)."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index
        self.ntotal = index._n_chunks

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        hits = self._index.search("vector", [[float(v) for v in x[0]]], k, "IP")
        ids = np.full((1, k), -1, dtype=np.int64)
        scores = np.zeros((1, k), dtype=np.float32)
        for j, (cid, score) in enumerate(hits[:k]):
            ids[0, j], scores[0, j] = cid, score
        return scores, ids

    def reconstruct(self, chunk_id: int) -> np.ndarray:
        return self._index.chunk_vector(chunk_id)


class _Lexical:
    """BM25 on the server (Milvus's BM25 function over qabot's own word stems), with the word
    statistics answer scoring reads (document frequencies, kept in the _meta collection).

    On a server without full-text search (before Milvus 2.5) the BM25 arrays of the index folder
    are used when it holds the same build, otherwise retrieval is dense only (said once).
    """

    def __init__(self, index: MilvusIndex, full_text: bool) -> None:
        self._index = index
        self._n = index._n_chunks
        self._lock = threading.Lock()
        self._df: dict[str, int] = {}
        self._by_initial: dict[str, dict[str, int]] = {}
        self._corrections: dict[str, str | None] = {}
        self._local: LexicalIndex | None = None
        self.mode = "milvus" if full_text else self._open_local()

    def _open_local(self) -> str:
        settings = self._index._settings
        origin = self._index.manifest["milvus"].get("origin", {})
        try:
            gen = store.open_generation(settings.index_dir)
            if gen.name == origin.get("generation") and gen.manifest.get("built_at") == origin.get("built_at"):
                self._local = LexicalIndex.load(gen.path / store.BM25_DIR)
                return "local"
        except (OSError, ValueError, IndexMissing, IndexCorrupt, IndexMismatch):
            pass
        log.warning(
            "%s has no full-text search (Milvus < 2.5) and %s does not hold this build: BM25 is off, "
            "retrieval is dense only.", where(settings), settings.index_dir,
        )  # fmt: skip
        return "off"

    def _frequencies(self, stems: Sequence[str]) -> None:
        with self._lock:
            missing = [s for s in dict.fromkeys(stems) if s not in self._df]
        if not missing:
            return
        keys = ", ".join(layout.quote(f"t:{s}") for s in missing)
        rows = self._index.query(self._index.meta, f"key in [{keys}]", ["value", "num"], limit=len(missing))
        with self._lock:
            for s in missing:
                self._df[s] = 0
            for r in rows:
                self._df[r["value"]] = int(r["num"])
            if len(self._df) > 200_000:
                self._df.clear()

    def df(self, stem: str) -> int:
        self._frequencies([stem])
        return self._df.get(stem, 0)

    def idf(self, stem: str) -> float:
        """As LexicalIndex.idf: 0 for words no chunk holds."""
        n = self.df(stem)
        if n == 0:
            return 0.0
        return math.log(1 + (self._n - n + 0.5) / (n + 0.5))

    def correction(self, stem: str) -> str | None:
        """As LexicalIndex.correction, over the words of the _meta collection with the same initial."""
        if len(stem) < 5 or not stem.isalpha() or self.df(stem) > 0:
            return None
        if stem in self._corrections:
            return self._corrections[stem]
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        terms = self._initial(stem[0])
        edits = 2 if len(stem) >= 9 else 1
        found = process.extract(stem, list(terms), scorer=OSA.distance, score_cutoff=edits, limit=None)
        best = str(min(found, key=lambda m: (m[1], -terms[m[0]], m[0]))[0]) if found else None
        if len(self._corrections) >= 10_000:
            self._corrections.clear()
        self._corrections[stem] = best
        return best

    def _initial(self, letter: str) -> dict[str, int]:
        with self._lock:
            hit = self._by_initial.get(letter)
        if hit is not None:
            return hit
        grp = layout.quote(f"t:{letter}")
        rows = self._index.query(self._index.meta, f"grp == {grp}", ["value", "num"], limit=16384)
        if len(rows) >= 16384:  # Milvus's limit for one query: page through the rest
            rows = self._all_of(grp)
        terms = {r["value"]: int(r["num"]) for r in rows}
        with self._lock:
            self._by_initial[letter] = terms
        return terms

    def _all_of(self, grp: str) -> list[dict[str, Any]]:
        client = self._index._client
        settings = self._index._settings
        iterator = call(
            settings,
            lambda: client.query_iterator(self._index.meta, filter=f"grp == {grp}", output_fields=["value", "num"],
                                          batch_size=4096),
        )  # fmt: skip
        rows: list[dict[str, Any]] = []
        try:
            while batch := call(settings, iterator.next):
                rows.extend(batch)
        finally:
            iterator.close()
        return rows

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, BM25 scores), best first; a misspelt word counts as its correction."""
        import numpy as np

        if self._local is not None:
            return self._local.search(query, k)
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        stems = tokenize(query)
        if self.mode == "off" or not stems or k <= 0 or self._n == 0:
            return empty
        self._frequencies(stems)
        found = [s if self._df.get(s, 0) else self.correction(s) for s in stems]
        words = [w for w in found if w]
        if not words:
            return empty
        hits = self._index.search("sparse", [" ".join(words)], k, "BM25")
        # Milvus Lite reports BM25 as a negated distance; servers as a positive score. Milvus's BM25
        # has Lucene's constant factor (k1 + 1), bm25s's does not: divided out, the scores are the
        # folder's own (the ranking never depended on it; the `top_lexical` signal does).
        scale = layout.BM25_K1 + 1
        hits = sorted(((cid, abs(score) / scale) for cid, score in hits if score != 0), key=lambda h: (-h[1], h[0]))
        return np.asarray([h[0] for h in hits], dtype=np.int64), np.asarray([h[1] for h in hits], dtype=np.float32)


class _SentenceVectors:
    """Sentence vectors by sentence id (what answer scoring slices), read with their chunks."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return self._index._n_sentences

    def __getitem__(self, rows: slice) -> Any:
        import numpy as np

        lo, hi, _ = rows.indices(len(self))
        self._index.sentences(lo, hi)
        with self._index._lock:
            found = [self._index._sentences.get(i) for i in range(lo, hi)]
        if any(f is None for f in found):
            raise IndexCorrupt(f"Sentences {lo}-{hi} are missing from {self._index.collection}; {REBUILD}.")
        return np.stack([f[3] for f in found if f is not None]) if found else np.zeros((0, 0), np.float16)
