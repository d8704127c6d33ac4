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
from .embedder import Embedder, QueryEncoderExport
from .errors import BuildInterrupted, IndexUnusable, SourceError
from .lexical import LexicalIndex
from .loader import EXTRACTION_VERSION, list_sources, read_documents
from .records import BuildReport, Document, SkippedFile
from .reuse import previous_plans
from .settings import Settings
from .vectors import build_index, index_kind, save_index

if TYPE_CHECKING:
    import numpy as np

# stage name, done, total
BuildProgress = Callable[[str, int, int], None]


EMBED_BLOCK = 16_384  # chunks embedded per call during a build (bounds the float32 results held at once)


def chunker_settings(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    return {
        "splitter": "syntok",
        "max_tokens": min(settings.chunk_tokens, embedder.max_tokens),
        "overlap_sentences": settings.chunk_overlap_sentences,
        "embed_title": settings.embed_title,
        "sentence_vectors": "pooled-in-chunk",  # how sentence vectors are made; a change forces new ones
        "lexical": "title+chunk",  # what BM25 indexes per chunk
        "extraction": EXTRACTION_VERSION,  # how .html, .pdf and .docx text is extracted; a change re-reads them
    }


def build(
    settings: Settings, embedder: Embedder, full: bool = False, progress: BuildProgress | None = None
) -> BuildReport:
    """Build and publish a new generation; the previous one stays in use until the switch."""
    began = time.perf_counter()
    index_dir = settings.index_dir
    with store.build_lock(index_dir):
        files = list_sources(settings.seeds_dir)
        docs, skipped = read_documents(
            files, (lambda done, total: progress("reading", done, total)) if progress else None
        )
        if not docs:
            what = f"{len(files)} file(s), none readable" if files else "no .txt, .md, .html, .pdf or .docx files"
            raise SourceError(f"Seeds folder {settings.seeds_dir} has {what}: add documents and build again.")
        chunking = chunker_settings(settings, embedder)
        # The generation in use, opened once: the source of reusable plans and vectors.
        previous = None if full else _previous_generation(settings, embedder.model_id)
        if previous is not None and _built_from(previous, settings, chunking, docs, skipped):
            counts = previous.manifest.get("counts", {})
            return BuildReport(
                generation=previous.name,
                documents=len(docs),
                chunks=int(counts.get("chunks", 0)),
                sentences=int(counts.get("sentences", 0)),
                embedded=0,
                reused=0,
                skipped=tuple(skipped),
                seconds=time.perf_counter() - began,
                unchanged=True,
            )
        reusable = {} if previous is None else previous_plans(previous, chunking, docs)
        if previous is not None and isinstance(embedder, QueryEncoderExport) and settings.onnx_queries:
            embedder.attach_query_encoder(index_dir)  # a few changed chunks are embedded without importing torch
        plans = []
        for i, doc in enumerate(docs):
            plan = reusable.get(doc.source)
            if plan is None:
                plan = plan_chunks(
                    doc,
                    embedder.count_tokens,
                    embedder.cut_points,
                    chunking["max_tokens"],
                    chunking["overlap_sentences"],
                    chunking["embed_title"],
                )
            plans.append(plan)
            if progress:
                progress("chunking", i + 1, len(docs))
        return publish_plans(settings, embedder, plans, files, skipped, previous, progress, began)


def publish_plans(
    settings: Settings,
    embedder: Embedder,
    plans: list[ChunkPlan],
    files: list[Any],
    skipped: list[SkippedFile] | None = None,
    previous: store.Generation | None = None,
    progress: BuildProgress | None = None,
    began: float | None = None,
) -> BuildReport:
    """Embed what `previous` has no vectors for, write a generation of `plans` and switch to it.

    The caller holds the build lock. `files` gives each plan's source size and mtime.
    """
    index_dir = settings.index_dir
    began = time.perf_counter() if began is None else began
    tmp, name = store.new_generation_dir(index_dir)
    try:
        return _write_generation(
            settings, embedder, plans, skipped or [], files, tmp, name, previous, progress, began
        )  # fmt: skip
    except KeyboardInterrupt as exc:
        store.discard(tmp)
        raise BuildInterrupted(
            f"Build interrupted; the previous index in {index_dir} is unchanged. Run `qabot index build` again."
        ) from exc
    except BaseException:
        store.discard(tmp)
        raise


def _write_generation(
    settings: Settings,
    embedder: Embedder,
    plans: list[ChunkPlan],
    skipped: list[SkippedFile],
    files: list[Any],
    tmp: Path,
    name: str,
    previous: store.Generation | None,
    progress: BuildProgress | None,
    began: float,
) -> BuildReport:
    import numpy as np

    chunk_inputs = [text for plan in plans for text in plan.embed_inputs]
    chunk_spans, n_sentences = sentence_spans_in_chunks(plans)
    model = embedder.model_id
    chunk_keys = [_cache_key(model, t) for t in chunk_inputs]
    span_keys = [
        [_span_key(model, t, a, b) for (a, b, _) in spans] for t, spans in zip(chunk_inputs, chunk_spans, strict=True)
    ]
    wanted = chunk_keys + [k for keys in span_keys for k in keys]
    cache = {} if previous is None else _previous_cache(previous, wanted)
    missing = [i for i, k in enumerate(chunk_keys) if k not in cache or any(sk not in cache for sk in span_keys[i])]
    missing = list({chunk_inputs[i]: i for i in reversed(missing)}.values())[::-1]  # each distinct input once
    if progress:
        progress("embedding", 0, len(missing))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("embedding", done, len(missing))

    # One model pass per chunk gives the chunk's vector and, pooled from the same token
    # vectors, each of its sentences' (half the work of embedding sentences on their own).
    # Rounded through float16 like the cache. Vectors reused from the cache keep the precision
    # they were made in (`--full` re-embeds all); bfloat16, float32 and the ONNX export agree
    # to cosine >= 0.999 (tested), so mixing them changes no ranking that matters.
    # In blocks, each kept as one float16 matrix whose rows the cache points at: at a million
    # chunks, float32 results for all of them at once (or millions of small arrays) would cost
    # gigabytes.
    for lo in range(0, len(missing), EMBED_BLOCK):
        block = missing[lo : lo + EMBED_BLOCK]
        fresh_chunks, fresh_spans = embedder.embed_with_spans(
            [chunk_inputs[i] for i in block], [[(a, b) for (a, b, _) in chunk_spans[i]] for i in block],
            settings.batch_size, tick,
        )  # fmt: skip
        chunks16, spans16 = fresh_chunks.astype(np.float16), fresh_spans.astype(np.float16)
        row = 0
        for j, i in enumerate(block):
            cache[chunk_keys[i]] = chunks16[j]
            for key in span_keys[i]:
                cache[key] = spans16[row]
                row += 1
    dim = embedder.dim
    chunk_vectors = (
        np.stack([cache[k] for k in chunk_keys]).astype(np.float32) if chunk_keys else np.zeros((0, dim), np.float32)
    )
    sentence_vectors = np.zeros((n_sentences, dim), dtype=np.float16)  # stored as float16
    for keys, spans in zip(span_keys, chunk_spans, strict=True):
        for key, (_, _, sentence_id) in zip(keys, spans, strict=True):
            sentence_vectors[sentence_id] = cache[key]

    if progress:
        progress("writing", 0, 1)
    conn = store.connect(tmp / store.META, readonly=False)
    try:
        conn.executescript(store.SCHEMA_SQL)
        sent_base = 0
        chunk_id = 0
        sentence_rows = []
        chunk_rows = []
        for doc_id, plan in enumerate(plans):
            sentence_rows += [(sent_base + j, doc_id, s.start, s.end) for j, s in enumerate(plan.sentences)]
            for chunk, (lo, hi), embed_input in zip(plan.chunks, plan.chunk_sentences, plan.embed_inputs, strict=True):
                titled = int(embed_input != chunk.text)
                chunk_rows.append((chunk_id, doc_id, chunk.start, chunk.end, sent_base + lo, sent_base + hi, titled))
                chunk_id += 1
            sent_base += len(plan.sentences)
        conn.executemany(
            "INSERT INTO documents VALUES (?,?,?,?)",
            ((i, p.document.source, p.document.sha256, p.document.text) for i, p in enumerate(plans)),
        )
        conn.executemany("INSERT INTO sentences VALUES (?,?,?,?)", sentence_rows)
        conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)", chunk_rows)
        conn.executemany(
            "INSERT INTO pages VALUES (?,?,?)",
            ((i, n, start) for i, p in enumerate(plans) for n, start in enumerate(p.document.pages, start=1)),
        )
        # In key order: the B-tree grows at its end instead of splitting pages (faster, and a smaller file).
        conn.executemany("INSERT INTO embeddings VALUES (?,?)", ((k, cache[k].tobytes()) for k in sorted(set(wanted))))
        conn.commit()
    finally:
        conn.close()
    kind = index_kind(len(chunk_vectors))
    save_index(build_index(chunk_vectors, kind), tmp / store.VECTORS)
    np.save(tmp / store.SENTENCE_VECTORS, sentence_vectors, allow_pickle=False)
    # BM25 reads what the model reads: a chunk with its document's title line (every chunk
    # but those of the first paragraph, which holds the title itself, and unless the title is
    # long or QABOT_EMBED_TITLE is off), so "population of canada" matches Canada's passages.
    (tmp / store.BM25_DIR).mkdir()
    LexicalIndex.build_and_save(chunk_inputs, tmp / store.BM25_DIR)

    by_source = {f.source: f for f in files}
    manifest = {
        "schema": store.SCHEMA_VERSION,
        "generation": name,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds_dir": str(settings.seeds_dir),
        "embedder": {
            "model": embedder.model_id,
            "dim": embedder.dim,
            "max_tokens": embedder.max_tokens,
            "precision": embedder.precision,
        },
        "chunker": chunker_settings(settings, embedder),
        "faiss": kind,
        "counts": {
            "documents": len(plans),
            "chunks": len(chunk_inputs),
            "sentences": n_sentences,
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
        sentences=n_sentences,
        embedded=len(missing),
        reused=len(set(chunk_inputs)) - len(missing),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - began,
    )


def _previous_generation(settings: Settings, model_id: str) -> store.Generation | None:
    """The generation in use, if there is a readable one built with this model."""
    try:
        return store.open_generation(settings.index_dir, model=model_id)
    except IndexUnusable:
        return None


def _built_from(
    gen: store.Generation,
    settings: Settings,
    chunking: dict[str, Any],
    docs: list[Document],
    skipped: list[SkippedFile],
) -> bool:
    """Whether `gen` was built from exactly these documents the same way."""
    manifest = gen.manifest
    return (
        manifest.get("chunker") == chunking
        and {s: v.get("sha256") for s, v in manifest.get("sources", {}).items()} == {d.source: d.sha256 for d in docs}
        and set(manifest.get("skipped", {})) == {s.source for s in skipped}
        and str(manifest.get("seeds_dir")) == str(settings.seeds_dir)
    )


def sentence_spans_in_chunks(plans: list[ChunkPlan]) -> tuple[list[list[tuple[int, int, int]]], int]:
    """Per chunk: (start, end, global sentence id) of the sentences it is the first to hold.

    Offsets index the chunk's embedding input (title prefix included). Each sentence is
    pooled from the first chunk that holds it, so overlapping chunks don't pool it twice.
    """
    out: list[list[tuple[int, int, int]]] = []
    base = 0
    for plan in plans:
        taken: set[int] = set()
        for chunk, (lo, hi), embed_input in zip(plan.chunks, plan.chunk_sentences, plan.embed_inputs, strict=True):
            shift = len(embed_input) - len(chunk.text) - chunk.start
            spans = []
            for j in range(lo, hi):
                if j in taken:
                    continue
                taken.add(j)
                sent = plan.sentences[j]
                spans.append((sent.start + shift, sent.end + shift, base + j))
            out.append(spans)
        base += len(plan.sentences)
    return out, base


def _span_key(model_id: str, text: str, start: int, end: int) -> bytes:
    return _cache_key(model_id, f"sentence\x00{start}:{end}\x00{text}")


def _cache_key(model_id: str, text: str) -> bytes:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).digest()[:16]


def _previous_cache(gen: store.Generation, keys: list[bytes]) -> dict[bytes, np.ndarray]:
    """Vectors for `keys` cached in `gen` (a generation built with the same model)."""
    import numpy as np

    found: dict[bytes, np.ndarray] = {}
    try:
        conn = store.connect(gen.path / store.META)
        try:
            wanted = set(keys)
            counts = gen.manifest.get("counts", {})
            rows = int(counts.get("chunks", 0)) + int(counts.get("sentences", 0))  # about the table's size
            if len(wanted) > 2000 and 2 * len(wanted) >= rows:  # most of it: one scan beats many lookups
                for key, blob in conn.execute("SELECT key, vector FROM embeddings"):
                    if key in wanted:
                        found[key] = np.frombuffer(blob, dtype=np.float16)
            else:
                ordered = list(wanted)
                for lo in range(0, len(ordered), 500):
                    batch = ordered[lo : lo + 500]
                    marks = ",".join("?" * len(batch))
                    for key, blob in conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", batch):
                        found[bytes(key)] = np.frombuffer(blob, dtype=np.float16)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return found
