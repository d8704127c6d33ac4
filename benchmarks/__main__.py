"""`python -m benchmarks`: measure qabot's speed, memory and scale in one run.

    python -m benchmarks                         # everything, prints a table
    python -m benchmarks --json                  # one JSON object instead
    python -m benchmarks --quick                 # smoke run: small sample, small sizes
    python -m benchmarks --only build,search --sizes 100000,1000000

Parts (`--only`, comma separated):
  build        raw model throughput vs index build throughput on the same texts, build peak RSS
  ask          warm `ask` p50/p95 on the seed index and on the large (wiki) index
  cold         one-shot `qabot ask` wall time in a new process; peak RSS of a loaded large index
  search       vector search latency, recall@10 vs exact and memory at each of --sizes
  incremental  rebuild after changing one document of the large corpus, as a fraction of a full build
  langchain    LangChain FAISS + HuggingFaceEmbeddings on the sample corpus: build, query, recall@5
  scale        warm `ask` p50/p95 on an index of 1M chunks grown from the wiki index (benchmarks.scale)
  milvus       the same questions on the Milvus backend (a Milvus Lite server started here) and on the
               folder: latency and recall@5 ratios, answers that differ (benchmarks.milvus)

Inputs: the Wikipedia corpus (`python scripts/wiki_corpus.py --out data/wiki-seeds`), its
questions eval/wiki.jsonl, the seed article and eval/seed.jsonl, and a qabot index of the
whole wiki corpus (`--large-index`, default /tmp/wiki-index; built by the bench with
`qabot index build` when missing). Heavy steps run one after
another; measure on an otherwise idle machine (`uptime`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import corpus
from . import proc as bench_proc

PARTS = ("build", "ask", "cold", "search", "incremental", "langchain", "scale", "milvus")
DEFAULT_LARGE = Path("/tmp/wiki-index")
DEFAULT_SCALE = Path("/tmp/scale-index")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--quick", action="store_true", help="smoke run: 8 documents, 20k vectors, one cold run")
    p.add_argument("--only", default=",".join(PARTS), help=f"parts to run, comma separated ({','.join(PARTS)})")
    p.add_argument("--sizes", help="vector counts for the search part (default 100000,1000000; quick 20000)")
    p.add_argument("--docs", type=int, help="documents in the build / LangChain sample (default 1000; quick 8)")
    p.add_argument("--wiki-seeds", type=Path, default=corpus.WIKI_SEEDS, help="the Wikipedia corpus folder")
    p.add_argument("--wiki-questions", type=Path, default=corpus.WIKI_QUESTIONS)
    p.add_argument(
        "--more-questions",
        type=Path,
        nargs="*",
        default=corpus.MORE_QUESTIONS,
        help="more question files for the LangChain recall comparison (default: the held-out and training sets)",
    )
    p.add_argument(
        "--large-index",
        type=Path,
        help=f"qabot index of the whole wiki corpus (default {DEFAULT_LARGE}; quick: the sample's)",
    )
    p.add_argument(
        "--scale-index",
        type=Path,
        help=f"scale: the 1M-chunk index (default {DEFAULT_SCALE}; made once when missing)",
    )
    p.add_argument("--scale-chunks", type=int, help="scale: chunks in that index (default 1000000; quick 60000)")
    p.add_argument("--full-build", action="store_true", help="incremental: also time a full rebuild")
    p.add_argument(
        "--full-build-seconds", type=float, help="incremental: the large index's full build time, when known otherwise"
    )
    p.add_argument("--cold-runs", type=int, help="fresh `qabot ask` processes per index (default 3; quick 1)")
    p.add_argument("--no-search-questions", action="store_true", help="search queries: held-out vectors only")
    p.add_argument("--profile", type=Path, help="write a pyinstrument profile of the sample build here")
    p.add_argument("--workdir", type=Path, help="keep temporary indexes here (default: a temp folder, removed)")
    return p


def _load_average() -> float:
    """The 1-minute load average, stated beside each timing (the machine is shared)."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in ("faiss", "torch", "sentence_transformers", "numpy", "onnxruntime"):
        try:
            from importlib.metadata import version

            versions[name] = version(
                {"faiss": "faiss-cpu", "sentence_transformers": "sentence-transformers"}.get(name, name)
            )
        except Exception:  # noqa: BLE001 - not installed
            continue
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.quick = bool(args.quick)
        self.parts = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
        self.n_docs = args.docs or (8 if self.quick else 1000)
        sizes = args.sizes or ("20000" if self.quick else "100000,1000000")
        self.sizes = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
        self.cold_runs = args.cold_runs or (1 if self.quick else 3)
        self.sample_seeds = work / "sample-seeds"
        self.sample_index = work / "sample-index"
        self.seed_index = work / "seed-index"
        self.wiki_items = corpus.load(args.wiki_questions)
        self._lc_sample: dict[str, Any] | None = None
        self.result: dict[str, Any] = {"machine": machine(), "options": self._options()}
        self.result.update({part: None for part in PARTS})

    def _options(self) -> dict[str, Any]:
        a = self.args
        return {
            "quick": self.quick,
            "only": self.parts,
            "docs": self.n_docs,
            "sizes": self.sizes,
            "cold_runs": self.cold_runs,
            "large_index": str(self.large_index()),
            "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
            "wiki_seeds": str(a.wiki_seeds),
        }

    # ---- inputs -----------------------------------------------------------------------------
    def large_index(self) -> Path:
        """The big index: the whole wiki corpus, or in quick mode the sample index."""
        if self.args.large_index:
            return Path(self.args.large_index)
        return self.sample_index if self.quick else DEFAULT_LARGE

    def large_seeds(self) -> Path:
        return self.sample_seeds if self.large_index() == self.sample_index else Path(self.args.wiki_seeds)

    def ensure_sample(self) -> None:
        if not self.sample_seeds.exists():
            corpus.sample_corpus(self.args.wiki_seeds, self.sample_seeds, self.n_docs, self.wiki_items)

    def ensure_sample_index(self) -> None:
        self.ensure_sample()
        if not (self.sample_index / "CURRENT").exists():
            self._qabot_build(self.sample_seeds, self.sample_index)

    def ensure_seed_index(self) -> None:
        if not (self.seed_index / "CURRENT").exists():
            self._qabot_build(corpus.SEED_SEEDS, self.seed_index)

    def ensure_large_index(self) -> None:
        large = self.large_index()
        if large == self.sample_index:
            self.ensure_sample_index()
        elif not (large / "CURRENT").exists():
            result = self._qabot_build(self.large_seeds(), large)
            self.result["large_build"] = {
                "seconds": round(result.seconds, 1),
                "peak_rss_mb": round(result.peak_rss_mb, 1),
                "report": result.json_tail(),  # what `qabot index build --json` says it did
            }

    def query_ready(self, index: Path, writable: bool) -> Path:
        """An index folder with the ONNX query encoder that `qabot index build` now exports.

        Indexes written by the bench get the export in place. A large index built before the
        export existed is left untouched: a view folder in the workdir links to its generation
        and holds the export, which is what the same build gives today.
        """
        from qabot.embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        if self._has_export(index):
            return index
        target = index
        if not writable:
            from qabot import store

            gen = store.open_generation(index)
            target = self.work / "large-view"
            target.mkdir(parents=True, exist_ok=True)
            link = target / gen.name
            if not link.exists():
                link.symlink_to(gen.path.resolve(), target_is_directory=True)
            (target / store.CURRENT).write_text(gen.name + "\n", encoding="utf-8")
            self.result.setdefault("notes", []).append(
                f"{index} has no ONNX query encoder (built before it existed): the bench asks through "
                f"{target}, which links to its generation and adds the export."
            )
        if not self._has_export(target):
            began = time.perf_counter()
            from qabot.onnx_encoder import onnx_cache_dir

            embedder.export_query_encoder(onnx_cache_dir())
            self.result.setdefault("onnx_export_s", {})[str(target)] = round(time.perf_counter() - began, 1)
        return target

    @staticmethod
    def _has_export(index: Path) -> bool:
        from qabot.embedder import resolve_model_path
        from qabot.onnx_encoder import encoder_folder, is_exported, onnx_cache_dir
        from qabot.settings import PACKAGED_MODEL

        model_dir = resolve_model_path(PACKAGED_MODEL)
        return is_exported(encoder_folder(onnx_cache_dir(), PACKAGED_MODEL, model_dir)) or is_exported(
            encoder_folder(index / "onnx", PACKAGED_MODEL, model_dir)
        )

    def ready_large(self) -> Path:
        self.ensure_large_index()
        large = self.large_index()
        return self.query_ready(large, writable=large == self.sample_index or "large_build" in self.result)

    def _qabot_build(self, seeds: Path, index: Path) -> bench_proc.ProcResult:
        cmd = [*bench_proc.qabot_command(), "index", "build", "--json", "--seeds", str(seeds), "--index", str(index)]
        result = bench_proc.run(cmd)
        if result.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed: {result.stderr[-2000:]}")
        return result

    # ---- parts ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        for part in PARTS:
            if part in self.parts:
                began = time.perf_counter()
                try:
                    getattr(self, f"part_{part}")()
                except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others
                    self.result[part] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                section = self.result.get(part)
                if isinstance(section, dict):
                    section["bench_seconds"] = round(time.perf_counter() - began, 1)
                (self.work / "partial.json").write_text(json.dumps(self.result), encoding="utf-8")
        self.result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        self.result["targets"] = targets(self.result)
        return self.result

    def part_build(self) -> None:
        from .build import measure_build

        self.ensure_sample()
        shutil.rmtree(self.sample_index, ignore_errors=True)
        self.result["build"] = measure_build(self.sample_seeds, self.sample_index, profile=self.args.profile)
        if "langchain" in self.parts:
            # LangChain's build of the same sample right away, so both builds see the same machine load.
            self._lc_sample = self._langchain(self.sample_seeds)

    def part_ask(self) -> None:
        from .ask import warm_latency

        self.ensure_seed_index()
        self.ensure_large_index()
        samples = 20 if self.quick else 200
        seed_q = [it.question for it in corpus.load(corpus.SEED_QUESTIONS)]
        wiki_q = [it.question for it in self.wiki_items]
        large = self.ready_large()
        self.result["ask"] = {
            "seed": warm_latency(corpus.SEED_SEEDS, self.query_ready(self.seed_index, True), seed_q, samples),
            "large": warm_latency(self.large_seeds(), large, wiki_q, samples),
        }

    def part_cold(self) -> None:
        from .ask import cold_ask

        self.ensure_seed_index()
        self.ensure_large_index()
        large = self.ready_large()
        self.result["cold"] = {
            "seed": cold_ask(
                self.query_ready(self.seed_index, True), "How many missiles were launched?", self.cold_runs
            ),
            "large": cold_ask(large, "how tall is mount everest", self.cold_runs),
        }

    def part_search(self) -> None:
        from .search import measure

        self.ensure_large_index()
        questions: list[str] = []
        if not self.args.no_search_questions:
            questions = [it.question for it in self.wiki_items]
            questions += [it.question for it in corpus.load(corpus.SEED_QUESTIONS)]
        held_out = 100 if self.quick else 300
        self.result["search"] = measure(self.large_index(), self.sizes, questions, held_out)

    def part_incremental(self) -> None:
        from .build import measure_incremental

        self.ensure_large_index()
        work = self.work / "incremental"
        shutil.rmtree(work, ignore_errors=True)
        out = measure_incremental(self.large_index(), self.large_seeds(), work, self.args.full_build)
        if out.get("full_build_s") is None and self.args.full_build_seconds:
            out["full_build_s"] = self.args.full_build_seconds
            out["full_build_source"] = "given with --full-build-seconds"
        if out.get("full_build_s") is None and self.result.get("large_build"):
            out["full_build_s"] = self.result["large_build"]["seconds"]
            out["full_build_source"] = "measured (the bench built the large index)"
        if out.get("full_build_s") is None and self.quick and isinstance(self.result.get("build"), dict):
            out["full_build_s"] = self.result["build"]["build_s"]
            out["full_build_source"] = "measured (build part, sample corpus)"
        if out.get("full_build_s"):
            out["fraction"] = round(out["incremental_s"] / out["full_build_s"], 4)
        build = self.result.get("build")
        if isinstance(build, dict) and out.get("reused") is not None and build.get("build_texts_per_s"):
            # The same full build at this run's build rate (the measured one may have run on a busier machine).
            texts = int(out["reused"]) + int(out["embedded"] or 0)
            estimate = out["incremental_s"] + texts / float(build["build_texts_per_s"])
            out["full_build_estimate_s"] = round(estimate, 1)
            out["fraction_vs_estimate"] = round(out["incremental_s"] / estimate, 4)
        shutil.rmtree(work, ignore_errors=True)
        self.result["incremental"] = out

    def part_langchain(self) -> None:
        """LangChain's recipe against qabot: build on the sample, query + recall on the large corpus.

        Build time is compared on the sample corpus, measured in this run for both (qabot's from the
        build part). Query latency and recall@5 are compared on the large corpus (the whole wiki
        corpus; in quick mode the sample), where 10,000 documents make retrieval a real test.
        """
        from .ask import retrieval_recall, warm_latency

        if not isinstance(self.result.get("build"), dict):
            self.part_build()
        build = self.result["build"]
        lc_sample = self._lc_sample or self._langchain(self.sample_seeds)
        if "error" in lc_sample:
            self.result["langchain"] = lc_sample
            return
        large = self.ready_large()
        large_seeds = self.large_seeds()
        lc_large = lc_sample if large_seeds == self.sample_seeds else self._langchain(large_seeds)
        if "error" in lc_large:
            self.result["langchain"] = lc_large
            return
        present = {p.name for p in large_seeds.iterdir()}
        sets = {path.name: corpus.questions_for(corpus.load(path), present) for path in self.question_files()}
        items = [item for part in sets.values() for item in part]
        qa_recall = retrieval_recall(large_seeds, large, items, k=5)
        qa_recall["recall_per_set"] = {
            name: retrieval_recall(large_seeds, large, part, k=5)["recall_at_k"] for name, part in sets.items()
        }
        qa_ask = warm_latency(large_seeds, large, [it.question for it in items], len(items))
        out: dict[str, Any] = {
            "sample_documents": lc_sample["documents"],
            "documents": lc_large["documents"],
            "questions": lc_large["questions"],
            "langchain_sample": lc_sample,
            "langchain": lc_large,
            "qabot": {
                "build_s": build["build_s"],
                "chunks": build["chunks"],
                "texts": build["texts"],
                "ask_p50_ms": qa_ask["p50_ms"],
                "ask_p95_ms": qa_ask["p95_ms"],
                "recall_at_5": qa_recall["recall_at_k"],
                "recall_per_set": qa_recall["recall_per_set"],
                "missed": qa_recall["missed"],
                "retrieve_p50_ms": qa_recall["retrieve_p50_ms"],
            },
        }
        out["build_speedup"] = round(lc_sample["build_s"] / build["build_s"], 3) if build["build_s"] else None
        out["query_speedup"] = round(lc_large["query_p50_ms"] / qa_ask["p50_ms"], 3) if qa_ask["p50_ms"] else None
        rc, rq = lc_large.get("recall_at_k"), qa_recall["recall_at_k"]
        out["recall_ratio"] = round(rq / rc, 3) if rc and rq is not None else None
        self.result["langchain"] = out

    def part_scale(self) -> None:
        """The streamed build at 100k and 1M chunks (peak RSS), then cold and warm `ask` on 1M (benchmarks.scale)."""
        from . import scale
        from .ask import cold_ask

        large = self.ready_large()
        out = self.args.scale_index or (self.work / "scale-index" if self.quick else DEFAULT_SCALE)
        chunks = self.args.scale_chunks or (60_000 if self.quick else 1_000_000)
        small_chunks = max(1_000, chunks // 10)
        small = out.parent / f"{out.name}-{small_chunks}"
        base = [str(large), str(self.large_seeds()), "", str(self.args.wiki_questions)]
        result: dict[str, Any] = {"index": str(out), "small_index": str(small)}
        for key, folder, target in (("build_small", small, small_chunks), ("build", out, chunks)):
            if scale.usable(folder):
                # Made by an earlier run, which wrote its build figures beside it.
                result[key] = scale.recorded_build(folder)
                continue
            shutil.rmtree(folder, ignore_errors=True)  # a leftover of an older schema or a failed run
            base[2] = str(folder)
            load = _load_average()
            made = bench_proc.run(
                bench_proc.python_module("benchmarks.scale", *base, "--chunks", str(target), "--build-only")
            )
            if made.returncode != 0:
                raise RuntimeError(f"scale index build failed: {made.stderr.strip().splitlines()[-1:]}")
            result[key] = {
                **(made.json_tail().get("build") or {}),
                "process_peak_rss_mb": round(made.peak_rss_mb, 1),
                "load_average": [load, _load_average()],
            }
            scale.record_build(folder, result[key])
        base[2] = str(out)
        load = _load_average()
        asked = bench_proc.run(
            bench_proc.python_module("benchmarks.scale", *base, "--samples", "40" if self.quick else "200")
        )
        if asked.returncode != 0:
            raise RuntimeError(f"scale ask failed: {asked.stderr.strip().splitlines()[-1:]}")
        result["ask"] = asked.json_tail()["ask"]
        result["ask"]["process_peak_rss_mb"] = round(asked.peak_rss_mb, 1)
        result["ask"]["load_average"] = [load, _load_average()]
        load = _load_average()
        result["cold"] = cold_ask(out, "how tall is mount everest", self.cold_runs)
        result["cold"]["load_average"] = [load, _load_average()]
        # Not from the quick run: its builds are too small to extrapolate from.
        if not self.quick and isinstance(result.get("build"), dict) and isinstance(result.get("build_small"), dict):
            raw = _get(self.result, "build", "raw_chunks_per_s")
            result["build"]["ask_peak_rss_mb"] = result["ask"]["process_peak_rss_mb"]
            result["estimate_10m"] = scale.estimate(result["build_small"], result["build"], 10_000_000, raw)
        self.result["scale"] = result

    def part_milvus(self) -> None:
        from .milvus import run as run_milvus

        self.ensure_large_index()
        rounds = 1 if self.quick else 3
        questions = Path(self.args.wiki_questions)
        self.result["milvus"] = run_milvus(self.large_index(), self.large_seeds(), questions, None, None, rounds)

    def question_files(self) -> list[Path]:
        """The recall comparison's questions: the tuning set, and the other sets that are present."""
        return [Path(self.args.wiki_questions), *(Path(p) for p in self.args.more_questions if Path(p).is_file())]

    def _langchain(self, seeds: Path) -> dict[str, Any]:
        cmd = bench_proc.python_module("benchmarks.langchain", str(seeds), *map(str, self.question_files()))
        proc = bench_proc.run(cmd)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
        out = proc.json_tail()
        out["peak_rss_mb"] = round(proc.peak_rss_mb, 1)
        return out


# ---- targets and the table ----------------------------------------------------------------------


def _get(data: dict[str, Any], *path: str) -> Any:
    cur: Any = data
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def targets(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each speed target with the measured value and whether it is met (None: not measured)."""

    def check(value: Any, ok: Any, goal: str) -> dict[str, Any]:
        return {"value": value, "goal": goal, "met": None if value is None else bool(ok(value))}

    largest = None
    sizes = _get(r, "search", "sizes") or {}
    if sizes:
        largest = sizes[max(sizes, key=int)]
    return {
        "cold_ask_s": check(_get(r, "cold", "large", "median_s"), lambda v: v <= 1.5, "<= 1.5 s"),
        "warm_ask_seed_p50_ms": check(_get(r, "ask", "seed", "p50_ms"), lambda v: v <= 15, "<= 15 ms"),
        "warm_ask_large_p50_ms": check(_get(r, "ask", "large", "p50_ms"), lambda v: v <= 40, "<= 40 ms"),
        "warm_ask_1m_p50_ms": check(_get(r, "scale", "ask", "p50_ms"), lambda v: v <= 15, "<= 15 ms (1M chunks)"),
        "cold_ask_1m_s": check(_get(r, "scale", "cold", "median_s"), lambda v: v <= 0.5, "<= 0.5 s (1M chunks)"),
        "build_peak_rss_1m_mb": check(
            _get(r, "scale", "build", "peak_rss_mb"), lambda v: v <= 2048, "<= 2 GB (1M-chunk build)"
        ),
        "build_vs_raw": check(_get(r, "build", "build_vs_raw"), lambda v: v >= 0.9, ">= 0.90"),
        "search_recall_at_10": check(largest and largest["recall_at_10"], lambda v: v >= 0.95, ">= 0.95 (largest)"),
        "search_ms": check(largest and largest["search_p50_ms"], lambda v: v <= 10, "<= 10 ms (largest)"),
        "vector_mb": check(largest and largest["index_mb"], lambda v: v <= 450, "<= 450 MB (largest)"),
        "incremental_fraction": check(_get(r, "incremental", "fraction"), lambda v: v <= 0.05, "<= 0.05"),
        "langchain_build_speedup": check(_get(r, "langchain", "build_speedup"), lambda v: v > 1, "> 1"),
        "langchain_query_speedup": check(_get(r, "langchain", "query_speedup"), lambda v: v > 1, "> 1"),
        "langchain_recall_ratio": check(_get(r, "langchain", "recall_ratio"), lambda v: v > 1, "> 1"),
    }


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target / note) rows of the table."""
    t = r.get("targets") or targets(r)

    def mark(key: str) -> str:
        target = t.get(key, {})
        met = target.get("met")
        verdict = "" if met is None else (" ✓" if met else " ✗")
        return f"{target.get('goal', '')}{verdict}"

    def ok(key: str) -> dict[str, Any] | None:
        section = r.get(key)
        return section if isinstance(section, dict) and "error" not in section else None

    out: list[tuple[str, str, str]] = []
    for part in PARTS:
        section = r.get(part)
        if isinstance(section, dict) and "error" in section:
            out.append((f"{part}: not measured", "error", str(section["error"])[:100]))
    b = ok("build")
    if b is not None:
        sample = f"{b['documents']} docs: {b['chunks']:,} chunks, {b['sentences']:,} sentences"
        out += [
            ("build sample", sample, f"{b['tokens_per_chunk']} tokens per chunk; sentence vectors pooled in-pass"),
            (
                "raw model",
                _fmt(b["raw_chunks_per_s"], "chunks/s"),
                f"SentenceTransformer.encode, same chunk texts, {b.get('precision', 'float32')}"
                + (
                    f" (float32: {_fmt(b.get('raw_float32_chunks_per_s'))} chunks/s)"
                    if b.get("precision") == "bfloat16"
                    else ""
                ),
            ),
            ("index build", _fmt(b["build_chunks_per_s"], "chunks/s"), "read, chunk, embed, write, publish"),
            ("build / raw (same texts)", _fmt(b["build_vs_raw"]), mark("build_vs_raw")),
            (
                "  raw before / build / raw after",
                f"{_fmt(b.get('raw_before_s'))} / {_fmt(b['build_s'])} / {_fmt(b.get('raw_after_s'))} s",
                f"CPU-time ratio {_fmt(b.get('build_vs_raw_cpu'))}",
            ),
            ("build peak RSS", _fmt(b["rss_build_peak_mb"], "MB"), f"model alone {_fmt(b['rss_model_mb'], 'MB')}"),
        ]
    a = ok("ask")
    if a is not None:
        for name, key in (("seed", "warm_ask_seed_p50_ms"), ("large", "warm_ask_large_p50_ms")):
            s = a[name]
            out.append(
                (
                    f"warm ask p50 / p95, {name} ({s['chunks']:,} chunks)",
                    f"{_fmt(s['p50_ms'])} / {_fmt(s['p95_ms'])} ms",
                    mark(key),
                )
            )
    c = ok("cold")
    if c is not None:
        for name in ("seed", "large"):
            s = c[name]
            out.append(
                (
                    f"cold `qabot ask`, {name} index",
                    f"{_fmt(s['median_s'])} s (min {_fmt(s['min_s'])})",
                    mark("cold_ask_s") if name == "large" else f"median of {s['runs']}",
                )
            )
        out.append(
            ("peak RSS, `qabot ask` on large index", _fmt(c["large"]["peak_rss_mb"], "MB"), "model + loaded index")
        )
    s = ok("search")
    if s is not None:
        last = max(s["sizes"], key=int) if s["sizes"] else None
        for n, m in sorted(s["sizes"].items(), key=lambda kv: int(kv[0])):
            probe = f" nprobe {m['nprobe']}" if m.get("nprobe") else ""
            out.append(
                (f"search {int(n):,} vectors: index", f"{m['kind']}{probe}", f"built in {_fmt(m['build_s'], 's')}")
            )
            extra = lambda key, n=n: mark(key) if n == last else ""  # noqa: E731
            out.append(
                (
                    f"search {int(n):,}: p50 / p95",
                    f"{_fmt(m['search_p50_ms'])} / {_fmt(m['search_p95_ms'])} ms",
                    extra("search_ms"),
                )
            )
            out.append(
                (f"search {int(n):,}: recall@10 vs exact", _fmt(m["recall_at_10"]), extra("search_recall_at_10"))
            )
            out.append(
                (
                    f"search {int(n):,}: vector memory",
                    f"{_fmt(m['index_mb'], 'MB')} ({_fmt(m['bytes_per_vector'])} B/vector)",
                    extra("vector_mb") or f"RSS after load {_fmt(m['rss_after_load_mb'], 'MB')}",
                )
            )
    i = ok("incremental")
    if i is not None:
        out += [
            (
                "incremental rebuild (1 of " + f"{i['documents']:,} docs)",
                _fmt(i["incremental_s"], "s"),
                f"embedded {_fmt(i['embedded'])}, reused {_fmt(i['reused'])}",
            ),
            ("full build", _fmt(i["full_build_s"], "s"), str(i.get("full_build_source") or "")),
            (
                "full build at this run's build rate",
                _fmt(i.get("full_build_estimate_s"), "s"),
                f"incremental / that = {_fmt(i.get('fraction_vs_estimate'))}",
            ),
            ("incremental / full", _fmt(i["fraction"]), mark("incremental_fraction")),
        ]
    lc = ok("langchain")
    if lc is not None:
        lang, qa, lsam = lc["langchain"], lc["qabot"], lc["langchain_sample"]
        out += [
            (
                f"build, {lc['sample_documents']} docs: LangChain / qabot",
                f"{_fmt(lsam['build_s'], 's')} / {_fmt(qa['build_s'], 's')}",
                f"speedup {_fmt(lc['build_speedup'])} {mark('langchain_build_speedup')}; "
                f"{lsam['chunks']:,} vs {qa['texts']:,} texts embedded",
            ),
            (
                f"query p50, {lc['documents']:,} docs: LangChain / qabot ask",
                f"{_fmt(lang['query_p50_ms'])} / {_fmt(qa['ask_p50_ms'])} ms",
                f"speedup {_fmt(lc['query_speedup'])} {mark('langchain_query_speedup')}",
            ),
            (
                f"recall@5, {lc['questions']} questions: LangChain / qabot",
                f"{_fmt(lang['recall_at_k'])} / {_fmt(qa['recall_at_5'])}",
                f"ratio {_fmt(lc['recall_ratio'])} {mark('langchain_recall_ratio')}",
            ),
            *[
                (
                    f"  recall@5, {name}: LangChain / qabot",
                    f"{_fmt(lang.get('recall_per_set', {}).get(name))} / {_fmt(value)}",
                    "",
                )
                for name, value in (qa.get("recall_per_set") or {}).items()
            ],
            (
                f"LangChain full build, {lc['documents']:,} docs",
                _fmt(lang["build_s"], "s"),
                f"{lang['chunks']:,} chunks, peak RSS {_fmt(lang.get('peak_rss_mb'), 'MB')}",
            ),
        ]
    sc = ok("scale")
    if sc is not None:
        a = sc["ask"]
        out += [
            (
                f"warm ask p50 / p95, {a['chunks']:,} chunks",
                f"{_fmt(a['p50_ms'])} / {_fmt(a['p95_ms'])} ms",
                f"{mark('warm_ask_1m_p50_ms')} wiki index grown with altered copies (benchmarks.scale); "
                f"load {a.get('load_average')}",
            ),
            (
                "  question embedding / dense / BM25, p50",
                f"{_fmt(a['embed_p50_ms'])} / {_fmt(a['dense_p50_ms'])} / {_fmt(a['bm25_p50_ms'])} ms",
                f"process peak RSS {_fmt(a.get('process_peak_rss_mb'), 'MB')}",
            ),
        ]
        c = sc.get("cold")
        if isinstance(c, dict):
            out.append(
                (
                    f"cold `qabot ask`, {a['chunks']:,} chunks",
                    f"{_fmt(c['median_s'])} s (min {_fmt(c['min_s'])}, CPU {_fmt(c.get('median_cpu_s'))} s)",
                    f"{mark('cold_ask_1m_s')} median of {c['runs']}, peak RSS {_fmt(c['peak_rss_mb'], 'MB')}, "
                    f"load {c.get('load_average')}",
                )
            )
        for key in ("build_small", "build"):
            b = sc.get(key)
            if not isinstance(b, dict):
                continue
            out.append(
                (
                    f"  streamed build, {b['chunks']:,} chunks",
                    f"peak RSS {_fmt(b.get('peak_rss_mb'), 'MB')}, {_fmt(b['build_s'], 's')}",
                    (mark("build_peak_rss_1m_mb") + " " if key == "build" else "")
                    + f"{b['documents']:,} docs, {b['faiss']}; vectors replayed, not embedded; "
                    f"generation {_fmt(b.get('generation_mb'), 'MB')} + cache {_fmt(b.get('cache_mb'), 'MB')}; "
                    f"load {b.get('load_average')}" + (" (the run that built the index)" if b.get("reused") else ""),
                )
            )
        e = sc.get("estimate_10m")
        if isinstance(e, dict):
            out.append(
                (
                    "  10M chunks, estimated",
                    f"disk {_fmt(e['disk_gb'], 'GB')}, build peak RSS {_fmt(e['build_peak_rss_gb'], 'GB')}",
                    f"build {_fmt(e['build_hours'], 'h')} without the model, "
                    f"{_fmt(e.get('build_hours_with_model'), 'h')} with it; query RSS {_fmt(e['ask_rss_gb'], 'GB')}",
                )
            )
    mv = ok("milvus")
    if mv is not None:
        from .milvus import render as render_milvus

        out.append(("Milvus vs folder", f"{mv['chunks']:,} chunks", render_milvus(mv).splitlines()[0]))
        out += [
            ("  warm ask p50, milvus/faiss", f"{mv['ask_p50_ratio']}x",
             f"{mv['ask_p50_ms']['milvus']} vs {mv['ask_p50_ms']['faiss']} ms"),
            ("  recall@5, milvus/faiss", f"{mv['recall_at_5_ratio']}",
             f"{mv['recall_at_5']['milvus']} vs {mv['recall_at_5']['faiss']}; "
             f"answers differing: {mv['answers_differing']} of {mv['n_questions']}"),
            ("  copy into Milvus", _fmt(mv["copy_seconds"], "s"), f"{mv['copy_rows_per_s']} chunks/s"),
        ]  # fmt: skip
    return out


def render_table(r: dict[str, Any]) -> str:
    table = rows(r)
    w1 = max([len(a) for a, _, _ in table] + [6])
    w2 = max([len(b) for _, b, _ in table] + [5])
    lines = [f"| {'figure':<{w1}} | {'value':<{w2}} | target / note |", f"|{'-' * (w1 + 2)}|{'-' * (w2 + 2)}|---|"]
    lines += [f"| {a:<{w1}} | {b:<{w2}} | {c} |" for a, b, c in table]
    m = r.get("machine", {})
    lines.append("")
    lines.append(
        f"machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB; "
        f"load average {m.get('load_average_start')} -> {m.get('load_average_end')}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        work = args.workdir
        result = Bench(args, work).run()
    else:
        with tempfile.TemporaryDirectory(prefix="qabot-bench-") as tmp:
            result = Bench(args, Path(tmp)).run()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(render_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
