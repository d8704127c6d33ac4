"""Benchmark helper: index build throughput against the model alone, build memory, rebuilds.

Run as a child process so its peak RSS is the build's own:

    python -m benchmarks.build SEEDS INDEX [--batch-size 32] [--profile FILE]

It loads the model, warms it up, builds SEEDS into INDEX with `qabot.builder.build`
(full build: nothing reused), records the texts the builder handed to the model, then
encodes exactly those texts with `SentenceTransformer.encode` alone, and prints one JSON
line. Both timings see the same texts, batch size and threads, so their ratio is honest.
The build makes one model pass per chunk (its sentence vectors are pooled from that pass),
so the model alone is timed on the same chunk texts; texts/s equals chunks/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qabot import store

from . import proc as bench_proc


class DelegatingEmbedder:
    """An Embedder that passes everything to `inner`; subclasses change what they need."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def model_id(self) -> str:
        return str(self._inner.model_id)

    @property
    def dim(self) -> int:
        return int(self._inner.dim)

    @property
    def max_tokens(self) -> int:
        return int(self._inner.max_tokens)

    @property
    def precision(self) -> str:
        return str(self._inner.precision)


class _RecordingEmbedder(DelegatingEmbedder):
    """Wraps an Embedder and remembers what `embed` was asked to embed (no other change)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Any = None) -> Any:
        self.texts.extend(texts)
        return self._inner.embed(texts, batch_size, progress)

    def embed_with_spans(self, texts: Sequence[str], spans: Any, batch_size: int = 32, progress: Any = None) -> Any:
        self.texts.extend(texts)
        return self._inner.embed_with_spans(texts, spans, batch_size, progress)


def child(seeds: Path, index: Path, batch_size: int, profile: Path | None) -> dict[str, Any]:
    from qabot.builder import build
    from qabot.embedder import SentenceTransformerEmbedder, offline_environment
    from qabot.settings import Settings

    offline_environment()
    inner = SentenceTransformerEmbedder()
    began = time.perf_counter()
    model = inner.load_model()
    load_seconds = time.perf_counter() - began
    model.encode(["warm up the model with a sentence of ordinary length."] * 64, batch_size=batch_size)
    rss_model = bench_proc.vm_hwm_mb()

    embedder = _RecordingEmbedder(inner)
    settings = Settings(seeds_dir=seeds, index_dir=index, batch_size=batch_size, _env_file=None)  # type: ignore[call-arg]
    chunk_inputs, _ = _planned(settings, inner)

    # The raw model runs on the build's texts before AND after the build, and the ratio uses the
    # mean: on a shared machine the load can change between one timing and the next.
    # The raw model runs in the precision the build uses (bfloat16 autocast where the CPU has it),
    # so the ratio measures the pipeline around the model; a float32 pass is timed once for reference.
    def raw(precision: Any = inner) -> tuple[float, float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        with precision.autocast():
            model.encode(chunk_texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        seconds = time.perf_counter() - t0
        return seconds, seconds, time.process_time() - c0

    chunk_texts = list(dict.fromkeys(chunk_inputs))
    planned = set(chunk_texts)
    before = raw()
    rss_raw = bench_proc.vm_hwm_mb()
    stages: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        span = stages.setdefault(stage, [now, now])
        span[1] = now

    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    cpu0 = time.process_time()
    report = build(settings, embedder, full=True, progress=progress)  # type: ignore[arg-type]
    build_cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        assert profile is not None
        profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
    rss_build = bench_proc.vm_hwm_mb()
    after = raw()
    fp32 = SentenceTransformerEmbedder(precision="float32")
    fp32_seconds = raw(fp32)[0] if inner.precision != "float32" else (before[0] + after[0]) / 2

    texts = embedder.texts  # what the builder embedded: each distinct text once
    same = set(texts) == planned
    n_chunks = len(chunk_texts)
    tokens = inner.count_tokens(chunk_texts)
    texts_n = len(texts)
    raw_seconds = (before[0] + after[0]) / 2
    raw_chunks = (before[1] + after[1]) / 2
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "chunk_texts": n_chunks,
        "texts": texts_n,
        "same_texts": same,
        "tokens_per_chunk": round(sum(tokens[:n_chunks]) / max(1, n_chunks), 1),
        "tokens_per_sentence": None,  # sentences are not embedded on their own any more
        "model_load_s": round(load_seconds, 2),
        "build_s": round(report.seconds, 2),
        "build_cpu_s": round(build_cpu, 2),
        "build_stage_s": {k: round(v[1] - v[0], 2) for k, v in stages.items()},
        "raw_s": round(raw_seconds, 2),
        "raw_before_s": round(before[0], 2),
        "raw_after_s": round(after[0], 2),
        "raw_cpu_s": round((before[2] + after[2]) / 2, 2),
        "raw_chunks_s": round(raw_chunks, 2),
        "raw_chunks_per_s": round(n_chunks / max(1e-9, raw_chunks), 1),
        "precision": inner.precision,
        "raw_float32_s": round(fp32_seconds, 2),
        "raw_float32_chunks_per_s": round(n_chunks / max(1e-9, fp32_seconds), 1),
        "raw_texts_per_s": round(texts_n / max(1e-9, raw_seconds), 1),
        "build_chunks_per_s": round(report.chunks / max(1e-9, report.seconds), 1),
        "build_texts_per_s": round(texts_n / max(1e-9, report.seconds), 1),
        "build_vs_raw": round(raw_seconds / max(1e-9, report.seconds), 3),
        "build_vs_raw_cpu": round((before[2] + after[2]) / 2 / max(1e-9, build_cpu), 3),
        "rss_model_mb": round(rss_model, 1),
        "rss_raw_peak_mb": round(rss_raw, 1),
        "rss_build_peak_mb": round(rss_build, 1),
    }


def _planned(settings: Any, embedder: Any) -> tuple[list[str], list[str]]:
    """(chunk inputs, sentence texts) the builder gives the model, in its order, recomputed."""
    from qabot.builder import chunker_settings
    from qabot.chunker import plan_chunks
    from qabot.loader import list_sources, read_document
    from qabot.records import Document

    cfg = chunker_settings(settings, embedder)
    chunks: list[str] = []
    sentences: list[str] = []
    for file in list_sources(settings.seeds_dir):
        doc = read_document(file)
        if isinstance(doc, Document):
            plan = plan_chunks(
                doc,
                embedder.count_tokens,
                embedder.cut_points,
                cfg["max_tokens"],
                cfg["overlap_sentences"],
                cfg["embed_title"],
            )
            chunks += plan.embed_inputs
            sentences += [doc.text[x.start : x.end] for x in plan.sentences]
    return chunks, sentences


# ---- parent side ------------------------------------------------------------------------------


def measure_build(seeds: Path, index: Path, batch_size: int = 32, profile: Path | None = None) -> dict[str, Any]:
    """Build throughput, raw model throughput and build peak RSS, measured in a child process."""
    args = [str(seeds), str(index), "--batch-size", str(batch_size)]
    if profile is not None:
        args += ["--profile", str(profile)]
    result = bench_proc.run(bench_proc.python_module("benchmarks.build", *args))
    if result.returncode != 0:
        raise RuntimeError(f"build child failed: {result.stderr[-2000:]}")
    out = result.json_tail()
    out["child_peak_rss_mb"] = round(result.peak_rss_mb, 1)
    return out


def full_build_seconds(index_dir: Path) -> tuple[float | None, str]:
    """How long the first (full) build of an index folder took, and how that is known."""
    lock = index_dir / ".lock"
    first = index_dir / f"{store.GEN_PREFIX}000001" / store.MANIFEST
    if lock.is_file() and first.is_file():
        # The first generation of a fresh folder embeds everything; the lock file was created when
        # that build began and its manifest is the last file it wrote.
        seconds = first.stat().st_mtime - lock.stat().st_mtime
        if seconds > 0:
            return seconds, "first build of the folder (.lock created -> gen-000001 manifest written)"
    return None, "unknown"


def measure_incremental(large_index: Path, full_seeds: Path, work: Path, measure_full: bool = False) -> dict[str, Any]:
    """Rebuild after changing one document of the corpus, reusing the large index's cache."""
    gen = store.open_generation(large_index)
    seeds = work / "seeds"
    index = work / "index"
    shutil.copytree(full_seeds, seeds)
    index.mkdir(parents=True)
    shutil.copytree(gen.path, index / gen.name)
    (index / store.CURRENT).write_text(gen.name + "\n", encoding="utf-8")
    cache = large_index / store.EMBEDDING_CACHE
    if cache.is_file():  # the vectors live beside the generations since the streamed build
        import sqlite3

        src, dst = sqlite3.connect(cache), sqlite3.connect(index / store.EMBEDDING_CACHE)
        try:
            src.backup(dst)  # a consistent copy, WAL included
        finally:
            src.close()
            dst.close()
    # The query encoder is made once per model in the shared cache, not by rebuilds: not part of the timing.
    from qabot.embedder import SentenceTransformerEmbedder
    from qabot.onnx_encoder import onnx_cache_dir

    SentenceTransformerEmbedder().export_query_encoder(onnx_cache_dir())
    qabot = bench_proc.qabot_command()
    full_seconds, source = full_build_seconds(large_index)
    if measure_full:
        full = bench_proc.run(
            [*qabot, "index", "build", "--full", "--json", "--seeds", str(seeds), "--index", str(index)]
        )
        if full.returncode != 0:
            raise RuntimeError(f"full build failed: {full.stderr[-2000:]}")
        full_seconds = full.seconds
        source = f"measured (qabot index build --full: {full.json_tail()['seconds']:.1f} s inside the build)"
    files = sorted(p for p in seeds.iterdir() if p.suffix == ".txt")
    changed = files[len(files) // 2]
    with open(changed, "a", encoding="utf-8") as f:
        f.write("\nThis sentence was added by the qabot benchmark to change one document.\n")
    result = bench_proc.run([*qabot, "index", "build", "--json", "--seeds", str(seeds), "--index", str(index)])
    if result.returncode != 0:
        raise RuntimeError(f"incremental build failed: {result.stderr[-2000:]}")
    report = result.json_tail()  # `qabot index build --json`: one object saying what the build did
    out: dict[str, Any] = {
        "documents": len(files),
        "changed": changed.name,
        "incremental_s": round(result.seconds, 2),
        "incremental_build_s": report["seconds"],
        "embedded": report["embedded"],
        "reused": report["reused"],
        "incremental_peak_rss_mb": round(result.peak_rss_mb, 1),
        "full_build_s": round(full_seconds, 1) if full_seconds else None,
        "full_build_source": source,
    }
    out["fraction"] = round(result.seconds / full_seconds, 4) if full_seconds else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", type=Path)
    parser.add_argument("index", type=Path)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of the build here")
    args = parser.parse_args(argv)
    print(json.dumps(child(args.seeds, args.index, args.batch_size, args.profile)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
