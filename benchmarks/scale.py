"""Benchmark helper: warm `ask` on an index of about a million chunks, end to end.

    python -m benchmarks.scale WIKI_INDEX SEEDS OUT_INDEX QUESTIONS.jsonl [--chunks 1000000]

There is no million-chunk corpus on this machine, and embedding one would take hours, so
the large index is grown from the wiki index: its 10,033 documents stay as they are, and
copies of them are added until the index holds `--chunks` chunks. Each copy is a new
document (`copy-NN/<source>`) whose text differs from the original: words of four letters
or more are swapped, with probability 0.3, for another corpus word of the same length
(same length, so every chunk and sentence span stays valid). BM25 therefore indexes a
million distinct passages with a real vocabulary. A copy's chunk and sentence vectors are
perturbed copies of the original's real MiniLM vectors, as in `bench_search`
(normalize(v + a*w + noise)); the originals keep their own vectors.

The generation is written by the builder's own writer (`builder.publish_plans`: SQLite,
FAISS of the kind qabot picks at that size, BM25, sentence vectors, manifest), then opened
by `QAEngine` as `qabot ask` opens any index, and every question of the dataset is asked
in turn: the wall time of `engine.ask` (ONNX question embedding, FAISS + BM25 search,
fusion, sentence choice, abstention). The index is built once and reused by later runs.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qabot import store

from . import proc as bench_proc
from .build import DelegatingEmbedder
from .corpus import load, percentile, questions_for
from .search import perturbed

_WORD = re.compile(r"[A-Za-z]{4,}")
SWAP = 0.3


class ReplayEmbedder(DelegatingEmbedder):
    """An Embedder that returns real vectors of the original chunks, perturbed for the copies."""

    def __init__(self, inner: Any, chunk_vecs: np.ndarray, sent_vecs: np.ndarray, seed: int = 7) -> None:
        super().__init__(inner)
        self._chunk_vecs = chunk_vecs
        self._sent_vecs = sent_vecs
        # embed input -> (original chunk row, the original sentence rows of its spans, is a copy)
        self.origin: dict[str, tuple[int, tuple[int, ...], bool]] = {}
        self._rng = np.random.default_rng(seed)

    def embed_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        progress: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = [self.origin[t] for t in texts]
        for t, (_, _, is_copy) in zip(texts, rows, strict=True):
            if is_copy:
                del self.origin[t]  # a copy is embedded once (then cached): keep this map one block large
        chunk_out = self._vary(self._chunk_vecs[[r for r, _, _ in rows]], [c for _, _, c in rows])
        assert all(len(sids) == len(ss) for (_, sids, _), ss in zip(rows, spans, strict=True)), "spans differ"
        sent_rows = [sid for _, sids, _ in rows for sid in sids]
        copied = [c for _, sids, c in rows for _ in sids]
        sent_out = self._vary(self._sent_vecs[sent_rows].astype(np.float32), copied)
        if progress is not None:
            progress(len(texts))
        return chunk_out, sent_out

    def _vary(self, vecs: np.ndarray, copied: list[bool]) -> np.ndarray:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        mask = np.asarray(copied, dtype=bool)
        if mask.any():
            base = vecs[mask]
            # perturbed() keeps its first len(base) rows as they are; ask for twice as many, keep the rest.
            vecs[mask] = perturbed(base, 2 * len(base), self._rng)[len(base) :]
        return vecs


def _original(wiki_index: Path) -> tuple[store.Generation, list[Any], np.ndarray, np.ndarray]:
    """The wiki generation, its documents, and its chunk and sentence vectors."""
    import faiss

    from qabot.records import Document

    gen = store.open_generation(wiki_index)
    conn = store.connect(gen.path / store.META)
    try:
        docs = [
            Document(src, text, sha)
            for src, sha, text in conn.execute("SELECT source, sha256, text FROM documents ORDER BY id")
        ]
    finally:
        conn.close()
    index = faiss.read_index(str(gen.path / store.VECTORS))
    chunk_vecs = index.reconstruct_n(0, index.ntotal)
    sent_vecs = np.load(gen.path / store.SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
    return gen, docs, chunk_vecs, sent_vecs


def _vary_text(text: str, rng: random.Random, pool: dict[int, list[str]]) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        if rng.random() >= SWAP:
            return word
        return rng.choice(pool.get(len(word)) or [word])

    return _WORD.sub(swap, text)


def build_scaled(wiki_index: Path, seeds: Path, out: Path, target_chunks: int) -> dict[str, Any]:
    """Write a generation of about `target_chunks` chunks into `out` (see the module doc).

    The copies are made lazily, as the builder's streaming writer asks for the next document,
    so this process holds one block of them at a time, like a real build of that size.
    """
    import hashlib

    from qabot.builder import PlannedSource, Source, chunker_settings, publish_plans, sentence_spans_in_chunks
    from qabot.embedder import SentenceTransformerEmbedder
    from qabot.records import Document
    from qabot.reuse import previous_plans
    from qabot.settings import Settings

    began = time.perf_counter()
    gen, docs, chunk_vecs, sent_vecs = _original(wiki_index)
    inner = SentenceTransformerEmbedder()
    settings = Settings(seeds_dir=seeds, index_dir=out, _env_file=None)  # type: ignore[call-arg]
    chunking = gen.manifest["chunker"]
    if chunking != chunker_settings(settings, inner):
        raise RuntimeError(f"{wiki_index} was built with other chunker settings: rebuild it with the defaults")
    by_source = previous_plans(gen, chunking, docs)
    originals = [by_source[d.source] for d in docs]
    del by_source, docs
    embedder = ReplayEmbedder(inner, chunk_vecs, sent_vecs)
    # The sentence rows each original chunk pools, exactly as the builder numbered them.
    chunk_sids = [tuple(sid for _, _, sid in spans) for spans in sentence_spans_in_chunks(originals)[0]]
    chunk_row = 0
    firsts: list[int] = []  # first chunk row of each original
    for plan in originals:
        firsts.append(chunk_row)
        for inp in plan.embed_inputs:
            embedder.origin[inp] = (chunk_row, chunk_sids[chunk_row], False)
            chunk_row += 1

    pool: dict[int, list[str]] = {}
    for plan in originals[:2000]:
        for w in _WORD.findall(plan.document.text):
            pool.setdefault(len(w), []).append(w)
    made = {"chunks": 0, "copies": 0}

    def sources() -> Iterator[Source]:
        for plan in originals:
            made["chunks"] += len(plan.chunks)
            # The file's real size and mtime, as a build records them: the staleness check of a
            # cold `qabot ask` then finds the originals unchanged instead of hashing every one.
            st = (seeds / plan.document.source).stat()
            yield PlannedSource(plan, st.st_size, st.st_mtime_ns)
        copy = 0
        while made["chunks"] < target_chunks:
            copy += 1
            made["copies"] = copy
            rng = random.Random(copy)
            for plan, c0 in zip(originals, firsts, strict=True):
                if made["chunks"] >= target_chunks:
                    break
                doc = plan.document
                text = _vary_text(doc.text, rng, pool)
                new_doc = Document(f"copy-{copy:02d}/{doc.source}", text, hashlib.sha256(text.encode()).hexdigest())
                chunks = tuple(replace(c, source=new_doc.source, text=text[c.start : c.end]) for c in plan.chunks)
                inputs = tuple(
                    (inp[: len(inp) - len(c.text)] + text[c.start : c.end])
                    for inp, c in zip(plan.embed_inputs, chunks, strict=True)
                )
                for j, inp in enumerate(inputs):
                    embedder.origin.setdefault(inp, (c0 + j, chunk_sids[c0 + j], True))
                made["chunks"] += len(chunks)
                yield PlannedSource(replace(plan, document=new_doc, chunks=chunks, embed_inputs=inputs), len(text), 0)

    planned_s = time.perf_counter() - began
    with store.build_lock(out):
        report = publish_plans(settings, embedder, sources())
    built = store.open_generation(out)
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "copies": made["copies"],
        "plan_s": round(planned_s, 1),
        "build_s": round(time.perf_counter() - began, 1),
        "faiss": built.manifest.get("faiss"),
        "peak_rss_mb": round(bench_proc.vm_hwm_mb(), 1),  # this process, the build alone (VmHWM)
        "generation_mb": round(_du_mb(built.path), 1),
        "cache_mb": round(_du_mb(out, store.EMBEDDING_CACHE), 1),
    }


def _du_mb(folder: Path, prefix: str = "") -> float:
    """Megabytes of the files under `folder` (whose names start with `prefix`, at its top level)."""
    files = folder.glob(f"{prefix}*") if prefix else folder.rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def _record_file(folder: Path) -> Path:
    return folder.parent / f"{folder.name}.build.json"


def record_build(folder: Path, figures: dict[str, Any]) -> None:
    """Keep a build's figures beside the index it made, for later runs that reuse the index."""
    _record_file(folder).write_text(json.dumps(figures) + "\n", encoding="utf-8")


def recorded_build(folder: Path) -> dict[str, Any] | str:
    """The figures of the build that made `folder` (marked as reused), or a note that none were kept."""
    try:
        figures = json.loads(_record_file(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{folder} was built earlier and its build figures were not kept: remove it to measure the build"
    return {**figures, "reused": True} if isinstance(figures, dict) else str(figures)


def usable(folder: Path) -> bool:
    """Whether `folder` holds an index this qabot can open (else it is made again)."""
    try:
        store.open_generation(folder)
    except Exception:  # noqa: BLE001 - missing, older schema, damaged: build it again
        return False
    return True


def estimate(small: dict[str, Any], large: dict[str, Any], n: int, raw_chunks_per_s: float | None) -> dict[str, Any]:
    """Disk, build memory and build time at `n` chunks, from the per-chunk costs between two builds.

    Each figure grows by the slope measured between the small and the large build (what one
    more chunk costs), so fixed costs (the model, imports, the FAISS training sample's floor)
    are not multiplied. The FAISS index is built in memory: its codes (dim + 8 ids bytes a
    vector for IVF-SQ8) are part of the slope, listed on their own as `faiss_index_gb`.
    """
    dn = large["chunks"] - small["chunks"]
    if dn <= 0:
        raise ValueError("the large build must have more chunks than the small one")

    def grow(key: str) -> float:
        slope = (large[key] - small[key]) / dn
        return float(large[key] + slope * (n - large["chunks"]))

    disk_mb = grow("generation_mb") + grow("cache_mb")
    build_s = grow("build_s")
    out: dict[str, Any] = {
        "chunks": n,
        "disk_gb": round(disk_mb / 1000, 1),
        "generation_gb": round(grow("generation_mb") / 1000, 1),
        "cache_gb": round(grow("cache_mb") / 1000, 1),
        "build_peak_rss_gb": round(grow("peak_rss_mb") / 1000, 2),
        "rss_mb_per_million_chunks": round((large["peak_rss_mb"] - small["peak_rss_mb"]) / dn * 1e6, 1),
        "faiss_index_gb": round(n * (384 + 8) / 1e9, 2),
        "build_hours": round(build_s / 3600, 2),
        "ask_rss_gb": None,
        "model_chunks_per_s": raw_chunks_per_s or RAW_CHUNKS_PER_S,
    }
    out["build_hours_with_model"] = round((build_s + n / out["model_chunks_per_s"]) / 3600, 1)
    asked = large.get("ask_peak_rss_mb")
    if asked:
        out["ask_rss_gb"] = round((asked + 8 * (n - large["chunks"]) / 1e6) / 1000, 2)  # + the IVF direct map
    return out


RAW_CHUNKS_PER_S = 303.5  # the model alone on this machine (docs/performance.md, build part), when not measured


def measure(seeds: Path, index: Path, questions: list[str], min_samples: int) -> dict[str, Any]:
    """Warm `ask` latency on the index, and the three searches alone for the same questions."""
    from qabot.vectors import search as vector_search

    from .ask import engine_for, warm_latency

    t0 = time.perf_counter()
    engine = engine_for(seeds, index)
    engine.ask(questions[0])
    open_s = time.perf_counter() - t0
    result = warm_latency(seeds, index, questions, min_samples, engine=engine)
    reader = engine.reader
    k = engine.settings.candidates
    steps: dict[str, list[float]] = {"embed": [], "dense": [], "bm25": []}
    for q in questions * 2:
        t = time.perf_counter()
        vec = engine.embedder.embed_query(q)
        steps["embed"].append(time.perf_counter() - t)
        t = time.perf_counter()
        vector_search(reader.vectors, vec, k)
        steps["dense"].append(time.perf_counter() - t)
        t = time.perf_counter()
        reader.lexical.search(q, k)
        steps["bm25"].append(time.perf_counter() - t)
    for name, values in steps.items():
        result[f"{name}_p50_ms"] = round((percentile(values, 50) or 0.0) * 1000.0, 2)
    result.update(
        open_s=round(open_s, 2), rss_mb=round(bench_proc.vm_rss_mb(), 1), peak_rss_mb=round(bench_proc.vm_hwm_mb(), 1)
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wiki_index", type=Path)
    parser.add_argument("seeds", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    from qabot.embedder import offline_environment

    offline_environment()
    result: dict[str, Any] = {}
    try:
        store.open_generation(args.out)
        built = False
    except Exception:  # noqa: BLE001 - no usable index there yet: build it
        built = True
    if built:
        result["build"] = build_scaled(args.wiki_index, args.seeds, args.out, args.chunks)
        # The ONNX export `qabot index build` makes once per model in the shared cache, in a process of
        # its own: it loads torch and the model (~1.2 GB), a fixed cost this process's peak RSS leaves out.
        export = "import sys, pathlib; from qabot.embedder import SentenceTransformerEmbedder as E; "
        export += "from qabot.onnx_encoder import onnx_cache_dir; E().export_query_encoder(onnx_cache_dir())"
        subprocess.run([sys.executable, "-c", export], check=True)
    if not args.build_only:
        items = questions_for(load(args.questions), {p.name for p in args.seeds.iterdir()})
        result["ask"] = measure(args.seeds, args.out, [it.question for it in items], args.samples)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
