"""Benchmark helper: the texts and questions the benchmark runs on.

The corpus is the Wikipedia summaries folder made by `python scripts/wiki_corpus.py`
(10,033 documents). Builds that must stay short run on a sample of it: every document that
a question of eval/wiki.jsonl names as evidence, then other documents chosen with a fixed
seed, so qabot and LangChain see the same files and the same questions every run.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path, PurePosixPath

from qabot.evaluate import EvalItem, load_dataset, percentile  # noqa: F401 - re-exported for the bench modules

ROOT = Path(__file__).resolve().parent.parent
WIKI_SEEDS = ROOT / "data" / "wiki-seeds"
WIKI_QUESTIONS = ROOT / "eval" / "wiki.jsonl"
# More questions for the LangChain recall comparison: held out (2) and the abstention training set.
MORE_QUESTIONS = [ROOT / "eval" / name for name in ("wiki-heldout.jsonl", "wiki-train.jsonl", "wiki-heldout2.jsonl")]
SEED_SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "eval" / "seed.jsonl"


def evidence_files(items: list[EvalItem], seeds_dir: Path) -> list[str]:
    """Relative paths of the documents named as evidence (file-name evidence only), in order."""
    names: list[str] = []
    for item in items:
        if item.evidence and item.evidence.endswith((".txt", ".md", ".html")):
            name = PurePosixPath(item.evidence).name
            if (seeds_dir / name).is_file() and name not in names:
                names.append(name)
    return names


def sample_corpus(seeds_dir: Path, out_dir: Path, n_docs: int, items: list[EvalItem], seed: int = 5) -> list[str]:
    """Copy n_docs documents into out_dir: the evidence documents first, then random others."""
    chosen = evidence_files(items, seeds_dir)[:n_docs]
    if len(chosen) < n_docs:
        rest = sorted(p.name for p in seeds_dir.iterdir() if p.is_file() and p.name not in set(chosen))
        random.Random(seed).shuffle(rest)
        chosen += rest[: n_docs - len(chosen)]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        shutil.copy2(seeds_dir / name, out_dir / name)
    return chosen


def questions_for(items: list[EvalItem], present: set[str]) -> list[EvalItem]:
    """The questions whose evidence document is in the sample (unanswerable ones kept too)."""
    kept = []
    for item in items:
        by_file = item.evidence is not None and item.evidence.endswith((".txt", ".md", ".html"))
        if not by_file or PurePosixPath(str(item.evidence)).name in present:
            kept.append(item)
    return kept


def load(path: Path) -> list[EvalItem]:
    return load_dataset(path)
