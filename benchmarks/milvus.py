"""The Milvus backend next to the index folder (FAISS), on the same questions and the same build.

    python -m benchmarks.milvus                                   # the wiki index (/tmp/wiki-index)
    python -m benchmarks.milvus --index /tmp/seed-index --seeds seeds --questions eval/seed.jsonl
    python -m benchmarks.milvus --uri http://127.0.0.1:19530      # an existing server instead
    python -m benchmarks --only milvus                            # the same, as a part of the benchmark

Starts a Milvus Lite server (`milvus-lite server`, 127.0.0.1 only, stopped at the end) unless
--uri is given, copies the index folder's current generation into it (`qabot index build` with
QABOT_BACKEND=milvus does the same), then asks every question on both backends, alternating,
and prints the ratios: warm `ask` latency p50/p95, recall@5 against the evidence, answers that
differ, and the search calls alone (dense, BM25). It also times the copy: the embedding cache
stays in the index folder, so a rebuild after one changed document embeds only that document,
and what the server costs is the copy of the whole generation (one collection per generation).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import corpus

DEFAULT_INDEX = Path("/tmp/wiki-index")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.milvus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="a built qabot index folder")
    p.add_argument("--seeds", type=Path, default=corpus.WIKI_SEEDS, help="the folder it was built from")
    p.add_argument("--questions", type=Path, default=corpus.WIKI_QUESTIONS, help="labelled questions (jsonl)")
    p.add_argument("--uri", help="use this Milvus instead of starting a Milvus Lite server")
    p.add_argument("--token", help="credentials for --uri (or QABOT_MILVUS_TOKEN)")
    p.add_argument("--rounds", type=int, default=3, help="times each question is asked on each backend")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p


@contextlib.contextmanager
def lite_server(work: Path) -> Iterator[str]:
    """A `milvus-lite server` on a free port of 127.0.0.1, stopped (its own process group) at the end."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    exe = Path(sys.executable).parent / "milvus-lite"
    log = open(work / "milvus-lite.log", "ab")  # noqa: SIM115 - kept open by the server
    proc = subprocess.Popen(
        [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(work / "data")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"milvus-lite server did not start (see {log.name})")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _percentile(values: list[float], q: float) -> float:
    value = corpus.percentile(values, q) if values else None
    return float("nan") if value is None else float(value)


def _timed(fn: Any, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def run(index: Path, seeds: Path, questions: Path, uri: str | None, token: str | None, rounds: int) -> dict[str, Any]:
    from qabot import QAEngine, Settings
    from qabot.backends.milvus_publish import publish
    from qabot.backends.milvus_reader import MilvusIndex
    from qabot.evaluate import run_eval
    from qabot.vectors import search as vector_search

    items = corpus.load(questions)
    base = Settings(seeds_dir=seeds, index_dir=index, _env_file=None)  # type: ignore[call-arg]
    folder = QAEngine.from_settings(base)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qabot-bench-milvus-")))
        server = uri or stack.enter_context(lite_server(work))
        extra: dict[str, Any] = {"backend": "milvus", "milvus_uri": server, "milvus_collection": "bench"}
        if token or os.environ.get("QABOT_MILVUS_TOKEN"):
            from pydantic import SecretStr

            extra["milvus_token"] = SecretStr(token or os.environ["QABOT_MILVUS_TOKEN"])
        settings = base.model_copy(update=extra)
        began = time.perf_counter()
        name = publish(settings, folder.embedder.model_id)
        copy_s = time.perf_counter() - began
        milvus = QAEngine(settings, embedder=folder.embedder)
        milvus.reload(force=True)
        chunks = int(milvus.info(check_stale=False).chunks)
        # Warm both, then alternate whole passes so load on the shared machine hits both alike.
        for engine in (folder, milvus):
            for item in items[:5]:
                engine.ask(item.question)
        reports: dict[str, list[Any]] = {"faiss": [], "milvus": []}
        for _ in range(rounds):
            for key, engine in (("faiss", folder), ("milvus", milvus)):
                reports[key].append(run_eval(engine, items, k=5))
        latency = {k: [r.latency_ms for rep in v for r in rep.results] for k, v in reports.items()}
        metrics = {k: v[0].metrics() for k, v in reports.items()}
        differ = [
            a.item.question
            for a, b in zip(reports["faiss"][0].results, reports["milvus"][0].results, strict=True)
            if (a.answer, a.abstained, [(c.source, c.start, c.end) for c in a.citations])
            != (b.answer, b.abstained, [(c.source, c.start, c.end) for c in b.citations])
        ]
        # The search calls alone, on the same query vectors.
        fr, mr = folder.reader, milvus.reader
        assert isinstance(mr, MilvusIndex)
        sample = items[:50]
        vecs = [folder.embedder.embed_query(i.question) for i in sample]
        calls: dict[str, dict[str, list[float]]] = {"dense": {}, "bm25": {}}
        for key, reader in (("faiss", fr), ("milvus", mr)):
            calls["dense"][key] = [
                t for v in vecs for t in _timed(lambda v=v, r=reader: vector_search(r.vectors, v, 40), 1)
            ]
            calls["bm25"][key] = [
                t for i in sample for t in _timed(lambda i=i, r=reader: r.lexical.search(i.question, 40), 1)
            ]
        # Same top-40 dense ids? (FLAT on both below 100k chunks: exact)
        same_dense = sum(
            list(vector_search(fr.vectors, v, 40)[0]) == list(vector_search(mr.vectors, v, 40)[0]) for v in vecs
        ) / max(len(vecs), 1)
        version = str(mr.client.get_server_version())
        bm25_mode = getattr(mr, "bm25", "?")
    p50 = {k: _percentile(v, 50) for k, v in latency.items()}
    p95 = {k: _percentile(v, 95) for k, v in latency.items()}
    rec = {k: m["recall@k"] for k, m in metrics.items()}
    return {
        "server": "milvus-lite server (started here)" if uri is None else "given URI",
        "server_version": version,
        "bm25": bm25_mode,
        "index": str(index),
        "questions": str(questions),
        "n_questions": len(items),
        "rounds": rounds,
        "chunks": chunks,
        "collection": name,
        "copy_seconds": round(copy_s, 2),
        "copy_rows_per_s": round(chunks / copy_s, 1) if copy_s else None,
        "ask_p50_ms": {k: round(v, 2) for k, v in p50.items()},
        "ask_p95_ms": {k: round(v, 2) for k, v in p95.items()},
        "ask_p50_ratio": round(p50["milvus"] / p50["faiss"], 2),
        "recall_at_5": rec,
        "recall_at_5_ratio": round(rec["milvus"] / rec["faiss"], 4) if rec["faiss"] else None,
        "answer_accuracy": {k: m["answer_accuracy"] for k, m in metrics.items()},
        "exact_offset_rate": {k: m["exact_offset_rate"] for k, m in metrics.items()},
        "answers_differing": len(differ),
        "differing_questions": differ[:10],
        "dense_p50_ms": {k: round(_percentile(v, 50), 2) for k, v in calls["dense"].items()},
        "bm25_p50_ms": {k: round(_percentile(v, 50), 2) for k, v in calls["bm25"].items()},
        "dense_same_top40": round(same_dense, 4),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


def _r(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render(r: dict[str, Any]) -> str:
    f, m = "faiss", "milvus"
    rows = [
        ("warm ask p50 (ms)", r["ask_p50_ms"][f], r["ask_p50_ms"][m], r["ask_p50_ratio"]),
        ("warm ask p95 (ms)", r["ask_p95_ms"][f], r["ask_p95_ms"][m],
         round(r["ask_p95_ms"][m] / r["ask_p95_ms"][f], 2)),
        ("recall@5 vs evidence", _r(r["recall_at_5"][f]), _r(r["recall_at_5"][m]), r["recall_at_5_ratio"]),
        ("answer accuracy", _r(r["answer_accuracy"][f]), _r(r["answer_accuracy"][m]), ""),
        ("dense search p50 (ms)", r["dense_p50_ms"][f], r["dense_p50_ms"][m],
         round(r["dense_p50_ms"][m] / r["dense_p50_ms"][f], 1)),
        ("BM25 search p50 (ms)", r["bm25_p50_ms"][f], r["bm25_p50_ms"][m],
         round(r["bm25_p50_ms"][m] / r["bm25_p50_ms"][f], 1)),
    ]  # fmt: skip
    lines = [
        f"Milvus ({r['server_version']}, {r['server']}, BM25: {r['bm25']}) vs the index folder (FAISS): "
        f"{r['n_questions']} questions x {r['rounds']} rounds, {r['chunks']:,} chunks",
        f"{'':24} {'faiss':>10} {'milvus':>10} {'milvus/faiss':>13}",
    ]
    for name, a, b, ratio in rows:
        lines.append(f"{name:24} {a!s:>10} {b!s:>10} {ratio!s:>13}")
    lines.append(f"answers differing (text, abstention or citations): {r['answers_differing']} of {r['n_questions']}")
    lines.append(f"same top-40 dense ids: {r['dense_same_top40']:.1%}")
    lines.append(f"copy of the generation into Milvus: {r['copy_seconds']} s ({r['copy_rows_per_s']} chunks/s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = run(args.index, args.seeds, args.questions, args.uri, args.token, args.rounds)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
