"""Build a new index generation from the seeds folder, reusing cached embeddings.

load -> chunk -> embed (only texts not in the previous generation's cache) -> write
SQLite, FAISS, BM25 and sentence vectors into a temporary folder -> publish.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .chunker import ChunkPlan, plan_chunks
from .embedder import Embedder
from .errors import BuildInterrupted, IndexError_, SourceError
from .lexical import LexicalIndex
from .loader import list_sources, read_document
from .records import BuildReport, Document, SkippedFile
from .settings import Settings
from .vectors import build_index, index_kind, save_index

if TYPE_CHECKING:
    import numpy as np

# stage name, done, total
BuildProgress = Callable[[str, int, int], None]


def chunker_settings(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    return {
        "splitter": "syntok",
        "max_tokens": min(settings.chunk_tokens, embedder.max_tokens),
        "overlap_sentences": settings.chunk_overlap_sentences,
        "embed_title": settings.embed_title,
    }


def build(
    settings: Settings, embedder: Embedder, full: bool = False, progress: BuildProgress | None = None
) -> BuildReport:
    """Build and publish a new generation; the previous one stays in use until the switch."""
    began = time.perf_counter()
    index_dir = settings.index_dir
    with store.build_lock(index_dir):
        files = list_sources(settings.seeds_dir)
        docs: list[Document] = []
        skipped: list[SkippedFile] = []
        for i, file in enumerate(files):
            result = read_document(file)
            (docs if isinstance(result, Document) else skipped).append(result)  # type: ignore[arg-type]
            if progress:
                progress("reading", i + 1, len(files))
        if not docs:
            what = f"{len(files)} file(s), none readable" if files else "no .txt, .md or .html files"
            raise SourceError(f"Seeds folder {settings.seeds_dir} has {what}: add documents and build again.")
        chunking = chunker_settings(settings, embedder)
        if not full:
            current = _unchanged_generation(settings, embedder, chunking, docs, skipped)
            if current is not None:
                counts = current.manifest.get("counts", {})
                return BuildReport(
                    generation=current.name,
                    documents=len(docs),
                    chunks=int(counts.get("chunks", 0)),
                    sentences=int(counts.get("sentences", 0)),
                    embedded=0,
                    reused=0,
                    skipped=tuple(skipped),
                    seconds=time.perf_counter() - began,
                    unchanged=True,
                )
        plans = []
        for i, doc in enumerate(docs):
            plans.append(
                plan_chunks(
                    doc,
                    embedder.count_tokens,
                    embedder.cut_points,
                    chunking["max_tokens"],
                    chunking["overlap_sentences"],
                    chunking["embed_title"],
                )
            )
            if progress:
                progress("chunking", i + 1, len(docs))
        tmp, name = store.new_generation_dir(index_dir)
        try:
            report = _write_generation(settings, embedder, plans, skipped, files, tmp, name, full, progress, began)
        except KeyboardInterrupt as exc:
            store.discard(tmp)
            raise BuildInterrupted(
                f"Build interrupted; the previous index in {index_dir} is unchanged. Run `qabot index build` again."
            ) from exc
        except BaseException:
            store.discard(tmp)
            raise
        return report


def _write_generation(
    settings: Settings,
    embedder: Embedder,
    plans: list[ChunkPlan],
    skipped: list[SkippedFile],
    files: list[Any],
    tmp: Path,
    name: str,
    full: bool,
    progress: BuildProgress | None,
    began: float,
) -> BuildReport:
    import numpy as np

    chunk_inputs = [text for plan in plans for text in plan.embed_inputs]
    sentence_texts = [plan.document.text[s.start : s.end] for plan in plans for s in plan.sentences]
    all_texts = chunk_inputs + sentence_texts
    keys = [_cache_key(embedder.model_id, t) for t in all_texts]
    cache = {} if full else _previous_cache(settings.index_dir, embedder.model_id, keys)
    missing = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
    if progress:
        progress("embedding", 0, len(missing))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embedding", done, len(missing))

    # Rounded through float16 like the cache, so incremental and full builds agree exactly.
    fresh = embedder.embed([all_texts[i] for i in missing], settings.batch_size, tick).astype(np.float16)
    for row, i in enumerate(missing):
        cache[keys[i]] = fresh[row]
    vectors = np.stack([cache[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, embedder.dim), np.float32)
    chunk_vectors = vectors[: len(chunk_inputs)]
    sentence_vectors = vectors[len(chunk_inputs) :]

    if progress:
        progress("writing", 0, 1)
    conn = store.connect(tmp / store.META, readonly=False)
    try:
        conn.executescript(store.SCHEMA_SQL)
        sent_base = 0
        chunk_id = 0
        for doc_id, plan in enumerate(plans):
            doc = plan.document
            conn.execute("INSERT INTO documents VALUES (?,?,?,?)", (doc_id, doc.source, doc.sha256, doc.text))
            conn.executemany(
                "INSERT INTO sentences VALUES (?,?,?,?)",
                [(sent_base + j, doc_id, s.start, s.end) for j, s in enumerate(plan.sentences)],
            )
            rows = []
            for chunk, (lo, hi) in zip(plan.chunks, plan.chunk_sentences, strict=True):
                rows.append((chunk_id, doc_id, chunk.start, chunk.end, sent_base + lo, sent_base + hi))
                chunk_id += 1
            conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)", rows)
            sent_base += len(plan.sentences)
        unique = dict.fromkeys(keys)
        conn.executemany("INSERT INTO embeddings VALUES (?,?)", ((k, cache[k].tobytes()) for k in unique))
        conn.commit()
    finally:
        conn.close()
    kind = index_kind(len(chunk_vectors))
    save_index(build_index(chunk_vectors, kind), tmp / store.VECTORS)
    np.save(tmp / store.SENTENCE_VECTORS, sentence_vectors.astype(np.float16), allow_pickle=False)
    chunk_texts = [c.text for plan in plans for c in plan.chunks]
    (tmp / store.BM25_DIR).mkdir()
    LexicalIndex.build_and_save(chunk_texts, tmp / store.BM25_DIR)

    by_source = {f.source: f for f in files}
    manifest = {
        "schema": store.SCHEMA_VERSION,
        "generation": name,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds_dir": str(settings.seeds_dir),
        "embedder": {"model": embedder.model_id, "dim": embedder.dim, "max_tokens": embedder.max_tokens},
        "chunker": chunker_settings(settings, embedder),
        "faiss": kind,
        "counts": {
            "documents": len(plans),
            "chunks": len(chunk_inputs),
            "sentences": len(sentence_texts),
            "skipped": len(skipped),
        },
        "sources": {
            plan.document.source: {
                "sha256": plan.document.sha256,
                "size": by_source[plan.document.source].size,
                "mtime_ns": by_source[plan.document.source].mtime_ns,
            }
            for plan in plans
        },
        "skipped": {
            s.source: {
                "reason": s.reason,
                "size": by_source[s.source].size,
                "mtime_ns": by_source[s.source].mtime_ns,
            }
            for s in skipped
        },
    }
    store.publish(settings.index_dir, tmp, name, manifest, settings.keep_generations)
    if progress:
        progress("writing", 1, 1)
    return BuildReport(
        generation=name,
        documents=len(plans),
        chunks=len(chunk_inputs),
        sentences=len(sentence_texts),
        embedded=len(missing),
        reused=len(set(keys)) - len(missing),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - began,
    )


def _unchanged_generation(
    settings: Settings,
    embedder: Embedder,
    chunking: dict[str, Any],
    docs: list[Document],
    skipped: list[SkippedFile],
) -> store.Generation | None:
    """The generation in use, when it was built from exactly these documents the same way."""
    try:
        gen = store.open_generation(settings.index_dir, model=embedder.model_id)
    except IndexError_:
        return None
    manifest = gen.manifest
    same = (
        manifest.get("chunker") == chunking
        and {s: v.get("sha256") for s, v in manifest.get("sources", {}).items()} == {d.source: d.sha256 for d in docs}
        and set(manifest.get("skipped", {})) == {s.source for s in skipped}
        and str(manifest.get("seeds_dir")) == str(settings.seeds_dir)
    )
    return gen if same else None


def _cache_key(model_id: str, text: str) -> bytes:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).digest()[:16]


def _previous_cache(index_dir: Path, model_id: str, keys: list[bytes]) -> dict[bytes, np.ndarray]:
    """Vectors for `keys` from the generation in use, if it was built with the same model."""
    import numpy as np

    try:
        gen = store.open_generation(index_dir, model=model_id)
    except IndexError_:
        return {}
    found: dict[bytes, np.ndarray] = {}
    try:
        conn = store.connect(gen.path / store.META)
        try:
            wanted = list(set(keys))
            for lo in range(0, len(wanted), 500):
                batch = wanted[lo : lo + 500]
                marks = ",".join("?" * len(batch))
                for key, blob in conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", batch):
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float16)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return found
