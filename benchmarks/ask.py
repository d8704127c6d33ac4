"""Benchmark helper: `ask` latency warm (in this process) and cold (a new `qabot ask` process).

Warm: one QAEngine opened on the index, one question asked to warm it up, then every
question of the dataset asked in turn (repeated until `min_samples` timings), each timed
around `engine.ask` — embedding the question, dense + BM25 search, fusion, answer.

Cold: the installed `qabot` console script run as a user runs it, `qabot ask "..." --index
DIR`, in a fresh process with the index present; wall time from spawn to exit, and the
process's own peak RSS (which is also the memory of a loaded index plus the model).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from qabot.evaluate import EvalItem

from . import proc as bench_proc
from .corpus import percentile


def engine_for(seeds: Path, index: Path) -> Any:
    from qabot.engine import QAEngine
    from qabot.settings import Settings

    settings = Settings(seeds_dir=seeds, index_dir=index, _env_file=None)  # type: ignore[call-arg]
    engine = QAEngine(settings)
    engine.reload(force=True)
    return engine


def warm_latency(
    seeds: Path, index: Path, questions: list[str], min_samples: int = 100, engine: Any = None
) -> dict[str, Any]:
    """`engine.ask` wall times over the questions, repeated to min_samples (an engine opened here if none given)."""
    if engine is None:
        engine = engine_for(seeds, index)
        engine.ask(questions[0])
    times: list[float] = []
    while len(times) < max(min_samples, len(questions)):
        for q in questions:
            t0 = time.perf_counter()
            engine.ask(q)
            times.append((time.perf_counter() - t0) * 1000.0)
    chunks = int(engine.info(check_stale=False).chunks)
    return {
        "chunks": chunks,
        "samples": len(times),
        "p50_ms": round(percentile(times, 50) or 0.0, 2),
        "p95_ms": round(percentile(times, 95) or 0.0, 2),
    }


def retrieval_recall(seeds: Path, index: Path, items: list[EvalItem], k: int = 5) -> dict[str, Any]:
    """Recall@k of the k passages qabot retrieves (dense + BM25 fused), judged like citations.

    This is the like-for-like figure against a plain vector store, which always returns k
    passages; qabot's answer citations are empty when it abstains.
    """
    from qabot.evaluate import DocumentCache, citation_matches
    from qabot.records import Citation
    from qabot.retriever import FusionParams, retrieve

    engine = engine_for(seeds, index)
    s = engine.settings
    reader = engine.reader
    params = FusionParams.from_settings(s)
    docs = DocumentCache(seeds)
    judged = [it for it in items if it.answerable and it.evidence]
    hits_found = 0
    missed: list[str] = []
    times: list[float] = []
    for item in judged:
        t0 = time.perf_counter()
        query = engine.check_question(item.question)
        hits = retrieve(reader, query, engine.embedder.embed_query(query), k, params)
        times.append((time.perf_counter() - t0) * 1000.0)
        cites = [Citation(h.source, h.start, h.end, h.text, h.fused) for h in hits[:k]]
        hit = any(citation_matches(str(item.evidence), c, docs) for c in cites)
        hits_found += hit
        if not hit:
            missed.append(item.question)
    return {
        "recall_at_k": round(hits_found / len(judged), 4) if judged else None,
        "k": k,
        "questions": len(judged),
        "retrieve_p50_ms": round(percentile(times, 50) or 0.0, 2),
        "missed": missed,
    }


def compile_qabot() -> None:
    """Write qabot's bytecode, as `pip install` and a first run do. Where PYTHONDONTWRITEBYTECODE is
    set (this machine's shell sets it), every cold run would otherwise compile qabot's modules
    again from source (~0.05-0.08 s of CPU) — a cost an installed qabot does not pay."""
    import compileall

    import qabot

    compileall.compile_dir(str(Path(qabot.__file__).parent), quiet=1)


def cold_ask(index: Path, question: str, runs: int = 3) -> dict[str, Any]:
    """Wall time, CPU time and peak RSS of `qabot ask QUESTION --index DIR` in new processes."""
    compile_qabot()
    cmd = [*bench_proc.qabot_command(), "ask", question, "--index", str(index)]
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        result = bench_proc.run(cmd, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"qabot ask failed ({result.returncode}): {result.stderr[-1500:]}")
        walls.append(result.seconds)
        cpus.append(result.cpu_seconds)
        rss.append(result.peak_rss_mb)
    return {
        "runs": runs,
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "max_s": round(max(walls), 3),
        "median_cpu_s": round(statistics.median(cpus), 3),  # user + system, every thread
        "peak_rss_mb": round(max(rss), 1),
        "command": " ".join(["qabot", "ask", repr(question), "--index", str(index)]),
    }
