"""Build a new index generation from the seeds folder, streamed a block at a time.

list -> (unchanged since the generation in use? stop) -> per block of ~EMBED_BLOCK chunks:
read, chunk (or reuse the previous plans), embed what the embedding cache lacks, commit the
new vectors to the cache, append SQLite rows, chunk and sentence vectors and BM25 postings
-> FAISS and BM25 arrays from the streamed files -> publish.

Memory is bounded by a block, not by the corpus: documents, plans, texts and rows of one
block are held at a time; vectors go to files as they come; BM25 keeps its vocabulary and a
length per chunk. What grows with the corpus are the FAISS index itself (IVF-SQ8 codes,
~400 B a vector past 100k) and those small per-chunk arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .chunker import ChunkPlan, plan_chunks
from .embedder import Embedder, QueryEncoderExport
from .errors import BuildInterrupted, DiskFull, IndexUnusable, InterruptedAfterSwitch, SourceError
from .extraction_cache import ExtractionCache
from .lexical import LexicalWriter
from .loader import EXTRACTION_VERSION, MAX_FILE_BYTES, SourceFile, list_sources, read_document
from .onnx_encoder import legacy_cache_dir, onnx_cache_dir
from .records import BuildReport, Document, SkippedFile
from .reuse import EmbeddingCache, PlanReuser, cache_key, span_key
from .settings import Settings
from .vectors import NpyWriter, build_index_from_file, index_kind, save_index

if TYPE_CHECKING:
    import numpy as np

# stage name, done, total
BuildProgress = Callable[[str, int, int], None]


EMBED_BLOCK = 16_384  # chunks planned, embedded and written per block (bounds the build's memory)
READ_BATCH = 256  # files read (and their previous plans looked up) at a time


@dataclass(frozen=True, slots=True)
class PlannedSource:
    """A readable file, cut into chunks, with the stat fingerprint it was read with."""

    plan: ChunkPlan
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class SkippedSource:
    """A file the loader could not use, with its fingerprint (sha256 None when unreadable)."""

    skipped: SkippedFile
    size: int
    mtime_ns: int
    sha256: str | None


Source = PlannedSource | SkippedSource


@dataclass(frozen=True, slots=True)
class GenerationJob:
    """What one generation is written from."""

    settings: Settings
    embedder: Embedder
    sources: Iterable[Source]  # every file, in source order; read lazily, a block at a time
    full: bool = False  # embed everything again instead of using cached vectors
    progress: BuildProgress | None = None
    began: float = 0.0
    files: int = 0  # how many files `sources` yields (for progress only)


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
    try:
        return _build(settings, embedder, full, progress)
    except OSError as exc:  # out of space before a generation was begun (the lock file, a folder)
        if not store.out_of_space(exc, store.free_bytes(settings.index_dir)):
            raise
        raise DiskFull(
            f"No space left on {settings.index_dir} (the previous index is unchanged): free 1 MB and rerun "
            "`qabot index build`."
        ) from exc


def _build(settings: Settings, embedder: Embedder, full: bool, progress: BuildProgress | None) -> BuildReport:
    began = time.perf_counter()
    index_dir = settings.index_dir
    with store.build_lock(index_dir):
        store.clean_leftovers(index_dir)  # of builds that were killed (we hold the lock: none is live)
        unlisted: list[SkippedFile] = []  # paths left out while listing (named, not in the sources table)
        files = list_sources(settings.seeds_dir, unlisted)
        if not files:
            what = "no .txt, .md, .html, .pdf or .docx files"
            if unlisted:
                shown = "; ".join(f"{s.source}: {s.reason}" for s in unlisted[:5])
                what += f" (skipped {len(unlisted)}: {shown}{' …' if len(unlisted) > 5 else ''})"
            raise SourceError(f"Seeds folder {settings.seeds_dir} has {what}: add documents and build again.")
        chunking = chunker_settings(settings, embedder)
        # The generation in use: the source of reusable plans.
        previous = None if full else _previous_generation(settings, embedder.model_id)
        if previous is not None and _built_from(previous, settings, chunking, files, progress):
            counts = previous.manifest.get("counts", {})
            return BuildReport(
                generation=previous.name,
                documents=int(counts.get("documents", 0)),
                chunks=int(counts.get("chunks", 0)),
                sentences=int(counts.get("sentences", 0)),
                embedded=0,
                reused=0,
                skipped=(*unlisted, *_skipped_of(previous)),
                seconds=time.perf_counter() - began,
                unchanged=True,
            )
        if previous is not None and isinstance(embedder, QueryEncoderExport) and settings.onnx_queries:
            # a few changed chunks are embedded without importing torch
            embedder.attach_query_encoder(onnx_cache_dir(settings.onnx_cache_dir)) or embedder.attach_query_encoder(
                legacy_cache_dir(index_dir)
            )
        reuser = PlanReuser(previous, chunking) if previous is not None else None
        extracted = ExtractionCache(index_dir, EXTRACTION_VERSION, fresh=full)  # PDF and Word text by content hash
        try:
            sources = _planned_sources(files, reuser, embedder, chunking, progress, extracted)
            job = GenerationJob(settings, embedder, sources, full, progress, began, len(files))
            report = publish_job(job)
            extracted.prune()  # published: extractions of files no longer there are dropped
            return dataclasses.replace(report, skipped=(*unlisted, *report.skipped))
        finally:
            extracted.close()
            if reuser is not None:
                reuser.close()


def publish_plans(
    settings: Settings,
    embedder: Embedder,
    sources: Iterable[Source],
    *,
    full: bool = False,
    progress: BuildProgress | None = None,
    began: float | None = None,
) -> BuildReport:
    """Write a generation of `sources` (in source order, consumed lazily) and switch to it.

    The caller holds the build lock. Vectors the embedding cache has are not embedded again.
    """
    began = time.perf_counter() if began is None else began
    return publish_job(GenerationJob(settings, embedder, sources, full, progress, began))


def publish_job(job: GenerationJob) -> BuildReport:
    """Write `job` into a fresh generation folder and publish it; on any failure, leave no trace."""
    index_dir = job.settings.index_dir
    tmp, name = store.new_generation_dir(index_dir)
    try:
        return _write_generation(job, tmp, name)
    except BaseException as exc:
        if store.names_current(index_dir, name):  # the switch happened: the new index is live
            if isinstance(exc, KeyboardInterrupt):
                raise InterruptedAfterSwitch(
                    f"Build interrupted after the switch: the new index {name} in {index_dir} is live; nothing to redo."
                ) from exc
            raise
        free_before = store.free_bytes(index_dir)  # measured with the partial generation still there
        written = store.tree_bytes(tmp)
        store.discard(tmp)
        store.discard(index_dir / name)  # renamed into place but never switched to
        if isinstance(exc, KeyboardInterrupt):
            raise BuildInterrupted(
                f"Build interrupted; the previous index in {index_dir} is unchanged and the vectors embedded so "
                f"far are kept. Run `qabot index build` again."
            ) from exc
        if isinstance(exc, Exception) and store.out_of_space(exc, free_before):
            in_use = store.current_generation(index_dir)
            before = store.tree_bytes(in_use) if in_use is not None else 0
            need = int(1.2 * max(before, written)) + 1_000_000
            short = max(1, -(-(need - store.free_bytes(index_dir)) // 1_000_000))
            raise DiskFull(
                f"No space left on {index_dir} (the previous index is unchanged): free {short} MB and rerun "
                "`qabot index build`."
            ) from exc
        raise


def _planned_sources(
    files: list[SourceFile],
    reuser: PlanReuser | None,
    embedder: Embedder,
    chunking: dict[str, Any],
    progress: BuildProgress | None,
    extracted: ExtractionCache | None = None,
) -> Iterator[Source]:
    """Each file read and planned (or its plan reused), in order, READ_BATCH files at a time."""
    for lo in range(0, len(files), READ_BATCH):
        batch = files[lo : lo + READ_BATCH]
        results = [read_document(f, extracted) for f in batch]
        docs = [r for r in results if isinstance(r, Document)]
        reused = reuser.plans(docs) if reuser is not None else {}
        for file, result in zip(batch, results, strict=True):
            if isinstance(result, SkippedFile):
                yield SkippedSource(result, file.size, file.mtime_ns, _file_sha256(file))
                continue
            plan = reused.get(result.source)
            if plan is None:
                plan = plan_chunks(
                    result,
                    embedder.count_tokens,
                    embedder.cut_points,
                    chunking["max_tokens"],
                    chunking["overlap_sentences"],
                    chunking["embed_title"],
                )
            yield PlannedSource(plan, file.size, file.mtime_ns)
        if progress:
            progress("reading", lo + len(batch), len(files))


class _GenerationWriter:
    """The files of one generation being written, a block at a time."""

    def __init__(self, job: GenerationJob, tmp: Path, name: str) -> None:
        import numpy as np

        self.job = job
        self.tmp = tmp
        self.number = store.generation_number(name)
        self.model = job.embedder.model_id
        self.dim = job.embedder.dim
        self.conn = store.connect(tmp / store.META, readonly=False)
        self.conn.executescript(store.SCHEMA_SQL)
        self.cache = EmbeddingCache(job.settings.index_dir)
        self.lexical = LexicalWriter(tmp / ".bm25-work")
        self.chunk_file = open(tmp / ".chunks.f16", "wb")  # noqa: SIM115 - closed in finish/close
        self.sentences = NpyWriter(tmp / store.SENTENCE_VECTORS, (self.dim,), np.float16)
        self.documents = self.chunks = 0
        self.embedded = self.reused = 0
        self.skipped: list[SkippedFile] = []
        self.to_embed = 0  # texts found missing so far (the embedding bar's total)

    def close(self) -> None:
        self.conn.close()
        self.cache.close()
        self.chunk_file.close()
        self.sentences.discard()

    def skip(self, item: SkippedSource) -> None:
        self.skipped.append(item.skipped)
        self.conn.execute(
            "INSERT INTO sources VALUES (?,?,?,?,?)",
            (item.skipped.source, item.sha256, item.size, item.mtime_ns, item.skipped.reason),
        )

    def write_block(self, block: list[PlannedSource]) -> None:
        """Embed what the cache lacks, commit it to the cache, and append the block everywhere."""
        import numpy as np

        job = self.job
        plans = [p.plan for p in block]
        inputs = [text for plan in plans for text in plan.embed_inputs]
        spans, n_sent = sentence_spans_in_chunks(plans, base=self.sentences.rows)
        chunk_keys = [cache_key(self.model, t) for t in inputs]
        span_keys = [[span_key(self.model, t, a, b) for (a, b, _) in s] for t, s in zip(inputs, spans, strict=True)]
        wanted = chunk_keys + [k for keys in span_keys for k in keys]
        vectors = {} if job.full else self.cache.get(wanted, self.number)
        missing = [
            i for i, k in enumerate(chunk_keys) if k not in vectors or any(s not in vectors for s in span_keys[i])
        ]
        missing = list({inputs[i]: i for i in reversed(missing)}.values())[::-1]  # each distinct input once
        self.to_embed += len(missing)
        self.reused += len(set(inputs)) - len(missing)
        if missing:
            # One model pass per chunk gives the chunk's vector and, pooled from the same token
            # vectors, each of its sentences' (half the work of embedding sentences on their own).
            # Rounded through float16 like the cache. Vectors reused from the cache keep the
            # precision they were made in (`--full` re-embeds all); bfloat16, float32 and the ONNX
            # export agree to cosine >= 0.999 (tested), so mixing them changes no ranking that matters.
            def tick(n: int) -> None:
                self.embedded += n
                if job.progress:
                    job.progress("embedding", self.embedded, self.to_embed)

            fresh_chunks, fresh_spans = job.embedder.embed_with_spans(
                [inputs[i] for i in missing], [[(a, b) for (a, b, _) in spans[i]] for i in missing],
                job.settings.batch_size, tick,
            )  # fmt: skip
            chunks16, spans16 = fresh_chunks.astype(np.float16), fresh_spans.astype(np.float16)
            fresh: dict[bytes, np.ndarray] = {}
            row = 0
            for j, i in enumerate(missing):
                fresh[chunk_keys[i]] = chunks16[j]
                for key in span_keys[i]:
                    fresh[key] = spans16[row]
                    row += 1
            self.cache.put(fresh, self.number)  # committed: a build killed from here on keeps them
            vectors.update(fresh)
        if chunk_keys:  # (a block of documents without a chunk has nothing to append)
            self.chunk_file.write(np.stack([vectors[k] for k in chunk_keys]).astype(np.float16).tobytes())
        first_sentence = self.sentences.rows
        sentence_block = np.zeros((n_sent, self.dim), dtype=np.float16)
        for keys, chunk_spans in zip(span_keys, spans, strict=True):
            for key, (_, _, sentence_id) in zip(keys, chunk_spans, strict=True):
                sentence_block[sentence_id - first_sentence] = vectors[key]
        self._insert_rows(block, first_sentence)
        self.sentences.append(sentence_block)
        # BM25 reads what the model reads: a chunk with its document's title line (every chunk
        # but those of the first paragraph, which holds the title itself, and unless the title is
        # long or QABOT_EMBED_TITLE is off), so "population of canada" matches Canada's passages.
        self.lexical.add(inputs)

    def _insert_rows(self, block: list[PlannedSource], first_sentence: int) -> None:
        doc_rows, source_rows, sentence_rows, chunk_rows, page_rows = [], [], [], [], []
        sent_base = first_sentence
        for item in block:
            plan, doc = item.plan, item.plan.document
            doc_id = self.documents
            sentence_rows += [(sent_base + j, doc_id, s.start, s.end) for j, s in enumerate(plan.sentences)]
            chunk_lo = self.chunks
            for chunk, (lo, hi), embed_input in zip(plan.chunks, plan.chunk_sentences, plan.embed_inputs, strict=True):
                titled = int(embed_input != chunk.text)
                chunk_rows.append((self.chunks, doc_id, chunk.start, chunk.end, sent_base + lo, sent_base + hi, titled))
                self.chunks += 1
            doc_rows.append(
                (
                    doc_id,
                    doc.source,
                    doc.sha256,
                    doc.text,
                    sent_base,
                    sent_base + len(plan.sentences),
                    chunk_lo,
                    self.chunks,
                )
            )
            source_rows.append((doc.source, doc.sha256, item.size, item.mtime_ns, None))
            page_rows += [(doc_id, n, start) for n, start in enumerate(doc.pages, start=1)]
            sent_base += len(plan.sentences)
            self.documents += 1
        self.conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)", doc_rows)
        self.conn.executemany("INSERT INTO sources VALUES (?,?,?,?,?)", source_rows)
        self.conn.executemany("INSERT INTO sentences VALUES (?,?,?,?)", sentence_rows)
        self.conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)", chunk_rows)
        self.conn.executemany("INSERT INTO pages VALUES (?,?,?)", page_rows)
        self.conn.commit()

    def finish(self) -> str:
        """Close the streamed files and build FAISS and BM25 from them; returns the FAISS kind."""
        import shutil

        progress = self.job.progress
        self.conn.commit()
        self.conn.close()
        self.chunk_file.close()
        self.sentences.close()
        if progress:
            progress("writing", 0, 2)
        kind = index_kind(self.chunks)
        save_index(
            build_index_from_file(self.tmp / ".chunks.f16", self.chunks, self.dim, kind), self.tmp / store.VECTORS
        )
        (self.tmp / ".chunks.f16").unlink()
        if progress:
            progress("writing", 1, 2)
        self.lexical.finish(self.tmp / store.BM25_DIR)
        shutil.rmtree(self.tmp / ".bm25-work")
        return kind


def _write_generation(job: GenerationJob, tmp: Path, name: str) -> BuildReport:
    writer = _GenerationWriter(job, tmp, name)
    try:
        block: list[PlannedSource] = []
        in_block = 0
        for item in job.sources:
            if isinstance(item, SkippedSource):
                writer.skip(item)
                continue
            block.append(item)
            in_block += len(item.plan.chunks)
            if in_block >= EMBED_BLOCK:
                writer.write_block(block)
                block, in_block = [], 0
        if block:
            writer.write_block(block)
        if writer.documents == 0:
            what = f"{len(writer.skipped)} file(s), none readable" if writer.skipped else "no documents"
            raise SourceError(f"Seeds folder {job.settings.seeds_dir} has {what}: add documents and build again.")
        kind = writer.finish()
    except BaseException:
        writer.close()
        raise
    settings, embedder = job.settings, job.embedder
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
            "documents": writer.documents,
            "chunks": writer.chunks,
            "sentences": writer.sentences.rows,
            "skipped": len(writer.skipped),
        },
    }
    try:
        store.publish(settings.index_dir, tmp, name, manifest, settings.keep_generations)
        writer.cache.prune(writer.number)
    finally:
        writer.cache.close()
    if job.progress:
        job.progress("writing", 2, 2)
    return BuildReport(
        generation=name,
        documents=writer.documents,
        chunks=writer.chunks,
        sentences=writer.sentences.rows,
        embedded=writer.embedded,
        reused=writer.reused,
        skipped=tuple(writer.skipped),
        seconds=time.perf_counter() - job.began,
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
    files: list[SourceFile],
    progress: BuildProgress | None,
) -> bool:
    """Whether `gen` was built from exactly these files' bytes the same way (stops at the first change)."""
    manifest = gen.manifest
    counts = manifest.get("counts", {})
    if (
        manifest.get("chunker") != chunking
        or str(manifest.get("seeds_dir")) != str(settings.seeds_dir)
        or int(counts.get("documents", -1)) + int(counts.get("skipped", 0)) != len(files)
    ):
        return False
    try:
        for lo in range(0, len(files), READ_BATCH):
            batch = files[lo : lo + READ_BATCH]
            recorded = store.source_rows(gen, [f.source for f in batch])
            for file in batch:
                row = recorded.get(file.source)
                if row is None or not row["sha256"] or _file_sha256(file) != row["sha256"]:
                    return False
            if progress:
                progress("checking", lo + len(batch), len(files))
    except Exception:  # noqa: BLE001 - an unreadable record: build again
        return False
    return True


def _skipped_of(gen: store.Generation) -> list[SkippedFile]:
    conn = store.connect(gen.path / store.META)
    try:
        rows = conn.execute("SELECT source, skipped FROM sources WHERE skipped IS NOT NULL ORDER BY source")
        return [SkippedFile(source, reason) for source, reason in rows]
    finally:
        conn.close()


def _file_sha256(file: SourceFile) -> str | None:
    """The sha256 of a file's bytes (as `Document.sha256`), or None when it cannot be read."""
    try:
        if file.size > 4 * MAX_FILE_BYTES:
            return None  # not worth reading: it is skipped whatever it holds
        with open(file.path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def sentence_spans_in_chunks(plans: list[ChunkPlan], base: int = 0) -> tuple[list[list[tuple[int, int, int]]], int]:
    """Per chunk: (start, end, sentence id) of the sentences it is the first to hold; and how many sentences.

    Offsets index the chunk's embedding input (title prefix included). Each sentence is
    pooled from the first chunk that holds it, so overlapping chunks don't pool it twice.
    Sentence ids count from `base`.
    """
    out: list[list[tuple[int, int, int]]] = []
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
    return out, sum(len(p.sentences) for p in plans)
