"""Try answer-selection variants on both development sets in one process (engines loaded once).

    python scripts/tune.py            # prints one line of metrics per variant

Each variant patches module constants or settings, runs `qabot.evaluate.run_eval` on the seed
set and on the Wikipedia set, and prints answer accuracy, recall@3/@5, abstention recall and
false abstentions. Indexes: /tmp/seed-index (built from seeds/) and /tmp/wiki-index (from
data/wiki-seeds, see `python scripts/wiki_corpus.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qabot import QAEngine, Settings, answer
from qabot.evaluate import load_dataset, run_eval

CORPORA = {
    "seed": ("seeds", "/tmp/seed-index", "eval/seed.jsonl"),
    "wiki": ("data/wiki-seeds", "/tmp/wiki-index", "eval/wiki.jsonl"),
}


def engines() -> dict[str, tuple[QAEngine, list[Any]]]:
    out = {}
    for name, (seeds, index, data) in CORPORA.items():
        engine = QAEngine.from_settings(Settings(seeds_dir=Path(seeds), index_dir=Path(index)))
        out[name] = (engine, load_dataset(Path(data)))
    return out


def measure(label: str, loaded: dict[str, tuple[QAEngine, list[Any]]], **settings: Any) -> None:
    parts = [f"{label:<28}"]
    for name, (engine, items) in loaded.items():
        original = engine.settings
        engine.settings = original.model_copy(update=settings)
        try:
            m = run_eval(engine, items).to_json()["metrics"]
        finally:
            engine.settings = original
        parts.append(
            f"{name}: acc {m['answer_accuracy']:.3f} r@3 {m['recall@3']:.3f} r@5 {m['recall@k']:.3f} "
            f"abst {m['abstention_recall']:.2f} false {m['false_abstention_rate']:.3f}"
        )
    print(" | ".join(parts), flush=True)


def patched(**constants: Any) -> Callable[[], None]:
    old = {k: getattr(answer, k) for k in constants}
    for k, v in constants.items():
        setattr(answer, k, v)
    return lambda: [setattr(answer, k, v) for k, v in old.items()]  # type: ignore[func-returns-value]


def main() -> int:
    loaded = engines()
    measure("current", loaded)
    variants = sys.argv[1:] or ["fusion", "answer"]
    if "fusion" in variants:
        measure("dense only", loaded, lexical_weight=0.0)
        measure("bm25 only", loaded, dense_weight=0.0)
        measure("dense 1.5 : bm25 1", loaded, dense_weight=1.5)
        measure("dense 1 : bm25 1.5", loaded, lexical_weight=1.5)
        measure("rrf_k 10", loaded, rrf_k=10)
        measure("candidates 100", loaded, candidates=100)
    if "type" in variants:
        for wt in (0.15, 0.2, 0.3):
            undo = patched(W_TYPE=wt)
            measure(f"W_TYPE {wt}", loaded)
            undo()
    if "dense" in variants:
        for dw in (2.0, 3.0):
            measure(f"dense {dw} : bm25 1", loaded, dense_weight=dw)
        measure("dense 2 : bm25 1, rrf_k 20", loaded, dense_weight=2.0, rrf_k=20)
        measure("dense 2 : bm25 1, passages 3", loaded, dense_weight=2.0, answer_passages=3)
    if "answer" in variants:
        for ratio in (0.4, 0.8):
            undo = patched(SECOND_SENTENCE_RATIO=ratio)
            measure(f"second ratio {ratio}", loaded)
            undo()
        for passages in (3, 6):
            measure(f"answer_passages {passages}", loaded, answer_passages=passages)
        for w in ((0.6, 0.3), (0.3, 0.5)):
            undo = patched(W_COS=w[0], W_COVER=w[1])
            measure(f"W_COS,W_COVER {w}", loaded)
            undo()
        for wt in (0.0, 0.2):
            undo = patched(W_TYPE=wt)
            measure(f"W_TYPE {wt}", loaded)
            undo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
