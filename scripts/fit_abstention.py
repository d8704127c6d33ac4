"""Fit the abstention rule (logistic regression over answer signals) on labelled signal dumps.

Needs scikit-learn: `pip install -e '.[tune]'`.

    python scripts/collect_signals.py eval/seed.jsonl --seeds seeds --index /tmp/seed-index > /tmp/seed.sig
    python scripts/collect_signals.py eval/wiki.jsonl --seeds data/wiki-seeds --index /tmp/wiki-index > /tmp/wiki.sig
    python scripts/collect_signals.py eval/wiki-train.jsonl --seeds data/wiki-seeds \
        --index /tmp/wiki-index > /tmp/train.sig
    # eval/honesty-train.jsonl asks about both corpora: index the Wikipedia summaries plus the
    # seed article (cp -r data/wiki-seeds data/both && cp seeds/*.txt data/both/)
    python scripts/collect_signals.py eval/honesty-train.jsonl --seeds data/both --index /tmp/both > /tmp/honesty.sig
    python scripts/fit_abstention.py /tmp/seed.sig /tmp/wiki.sig /tmp/train.sig /tmp/honesty.sig

Label: 1 when the question is answerable and the best sentence holds a gold answer, 0 when it
is unanswerable (answerable questions answered wrongly are left out: they say nothing about
whether to answer). Only questions that pass the support check (signal "supported") are
fitted: the others are refused whatever the model says. Prints the weights to paste into
qabot/answer.py and, per threshold, the abstentions on each file.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

# "unknown" is not fitted: it comes out positive (typos in answerable questions) and lets
# off-topic questions through (docs/quality.md #48).
FEATURES = ["cosine", "coverage", "top_cosine", "max_cosine", "type_mismatch", "gain", "number_missing"]


def load(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    x = np.array([[r["signals"].get(f, 0.0) for f in FEATURES] for r in rows])
    answerable = np.array([r["answerable"] for r in rows])
    correct = np.array([bool(r["correct"]) for r in rows])
    gated = np.array([r["signals"].get("supported", 1.0) > 0 for r in rows])
    return x[gated], answerable[gated], correct[gated]


def main() -> int:
    data = [load(p) for p in sys.argv[1:]]
    xs, ys = [], []
    for x, answerable, correct in data:
        keep = ~answerable | correct
        # Each file weighs the same, whatever its size.
        reps = max(1, round(max(len(d[0]) for d in data) / len(x)))
        xs += [x[keep]] * reps
        ys += [answerable[keep].astype(int)] * reps
    model = LogisticRegression(C=float(__import__("os").environ.get("C", "1.0")), max_iter=5000)
    model.fit(np.vstack(xs), np.concatenate(ys))
    weights = {f: round(float(w), 3) for f, w in zip(FEATURES, model.coef_[0], strict=True)}
    print("SUPPORT_BIAS =", round(float(model.intercept_[0]), 3))
    print("SUPPORT_WEIGHTS =", weights)
    for t in (0.2, 0.3, 0.4, 0.5, 0.6):
        parts = []
        for path, (x, answerable, _) in zip(sys.argv[1:], data, strict=True):
            p = model.predict_proba(x)[:, 1]
            abstain = p < t
            parts.append(
                f"{path}: of the supported, abstained {abstain[~answerable].sum()}/{(~answerable).sum()} "
                f"unanswerable, {abstain[answerable].sum()}/{answerable.sum()} answerable"
            )
        print(f"threshold {t}: " + " | ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
