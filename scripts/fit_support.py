"""Fit the learned support check and the short-answer span ranker; cross-validate by document.

Needs scikit-learn (`pip install -e '.[tune]'`). Input: the dumps of scripts/support_features.py.

    python scripts/fit_support.py /tmp/seed.feat /tmp/both.feat                 # grouped CV report
    python scripts/fit_support.py /tmp/seed.feat /tmp/both.feat --write qabot/support_weights.py

A question's candidates are its best DEPTH sentences; each is labelled 1 when it holds a gold
answer. The model scores every candidate; qabot answers with the highest-scoring one when its
probability reaches the threshold, else says "The documents don't say." Two kinds of model:
"listwise" (the default, docs/quality.md #63): one choice per question among its candidates and
"none of them" (a softmax over the candidates' scores and a fixed score 0 for none), fitted by
maximum likelihood with an L2 penalty 1/C, so the candidates compete for the answer; "logistic"
(#55): each candidate judged alone (and "trees", gradient-boosted, for comparison). Cross-validation folds
are grouped by document (the evidence document, or for unanswerable questions the first
retrieved one), so no document is both fitted and judged. Printed per set and threshold: answer
accuracy, false abstentions, unanswerable refused (on-topic / off-topic), short answer holds gold.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, ".")
from qabot.span_model import SPAN_FEATURES
from qabot.support_model import FEATURES

DEPTH = 8  # candidates per question scored at query time (qabot/answer.py LEARNED_DEPTH)
HEADER = '''"""The fitted weights of the learned support check and span ranker (docs/quality.md #55, #63).

Written by scripts/fit_support.py; do not edit by hand.
"""

'''
NO_SPAN_MODEL = "# the learned span ranker lost to the hand preference in CV (docs/quality.md #55)"
THRESHOLDS = (0.14, 0.16, 0.18, 0.2, 0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.3, 0.4)


def load(paths: list[str]) -> list[dict]:
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                q = json.loads(line)
                q["candidates"] = q["candidates"][:DEPTH]
                out.append(q)
    return out


def matrix(questions: list[dict], features: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = [FEATURES.index(f) for f in features]
    rows, labels, owner = [], [], []
    for qi, q in enumerate(questions):
        for c in q["candidates"]:
            rows.append([c["features"][i] for i in index])
            labels.append(c["label"])
            owner.append(qi)
    return np.array(rows, dtype=np.float64), np.array(labels), np.array(owner)


class Listwise:
    """A conditional logit with a "none" option: P(candidate i) = exp(s_i) / (1 + sum_j exp(s_j)),
    s = x @ coef + intercept, over one question's candidates. Fitted on whole questions: the
    target is the question's right candidates (together), or "none" when it has none."""

    def __init__(self, c: float) -> None:
        self.c = c
        self.coef_ = np.zeros((1, 0))
        self.intercept_ = np.zeros(1)

    def fit(self, x: np.ndarray, y: np.ndarray, owner: np.ndarray) -> Listwise:
        from scipy.optimize import minimize

        order = np.argsort(owner, kind="stable")
        x, y, owner = x[order], y[order].astype(np.float64), owner[order]
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        group = np.cumsum(np.r_[False, owner[1:] != owner[:-1]])
        has_right = np.add.reduceat(y, starts) > 0
        d, l2 = x.shape[1], 1.0 / self.c

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            s = x @ theta[:d] + theta[d]
            top = np.maximum(np.maximum.reduceat(s, starts), 0.0)
            e = np.exp(s - top[group])
            denominator = np.exp(-top) + np.add.reduceat(e, starts)
            right = np.add.reduceat(e * y, starts)
            log_target = np.where(has_right, np.log(np.maximum(right, 1e-300)), -top)
            nll = -(log_target - np.log(denominator)).sum()
            p = e / denominator[group]
            q = np.where(has_right[group], e * y / np.maximum(right[group], 1e-300), 0.0)
            grad = x.T @ (p - q) + l2 * theta[:d]
            return nll + 0.5 * l2 * float(theta[:d] @ theta[:d]), np.r_[grad, (p - q).sum()]

        theta = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 5000}).x
        self.coef_, self.intercept_ = theta[:d][None, :], theta[d:]
        return self

    def probabilities(self, x: np.ndarray, owner: np.ndarray) -> np.ndarray:
        s = x @ self.coef_[0] + self.intercept_[0]
        out = np.zeros(len(s))
        for o in np.unique(owner):
            sel = owner == o
            top = max(0.0, float(s[sel].max()))
            e = np.exp(s[sel] - top)
            out[sel] = e / (np.exp(-top) + e.sum())
        return out


def make_model(kind: str, c: float):
    if kind == "logistic":
        return LogisticRegression(C=c, max_iter=5000)
    return GradientBoostingClassifier(n_estimators=int(c), max_depth=3, learning_rate=0.1, subsample=0.8,
                                      random_state=0)  # fmt: skip


def fit(kind: str, c: float, x: np.ndarray, y: np.ndarray, weight: np.ndarray, owner: np.ndarray | None = None):
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    if kind == "listwise":
        assert owner is not None
        return Listwise(c).fit((x - mean) / scale, y, owner), mean, scale
    model = make_model(kind, c)
    model.fit((x - mean) / scale, y, sample_weight=weight)
    return model, mean, scale


def predict(kind: str, model, mean: np.ndarray, scale: np.ndarray, x: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """P(the candidate answers its question) for each row."""
    if kind == "listwise":
        return model.probabilities((x - mean) / scale, owner)
    return model.predict_proba((x - mean) / scale)[:, 1]


def weights_for(questions: list[dict], owner: np.ndarray) -> np.ndarray:
    """Each question weighs the same whatever its number of candidates; positives count double."""
    per_q = np.array([len(q["candidates"]) for q in questions], dtype=np.float64)
    return 1.0 / per_q[owner]


def cross_validate(questions, features, kind, c, folds=5) -> np.ndarray:
    """Out-of-fold probability per candidate row."""
    x, y, owner = matrix(questions, features)
    groups = np.array([questions[o]["group"] for o in owner])
    probs = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        model, mean, scale = fit(kind, c, x[train], y[train], weights_for(questions, owner)[train], owner[train])
        probs[test] = predict(kind, model, mean, scale, x[test], owner[test])
    return probs


def cross_validate_ranker(questions, features, c, folds=5) -> np.ndarray:
    """Out-of-fold ranking score per candidate row: pairwise logistic regression within a question."""
    x, y, owner = matrix(questions, features)
    groups = np.array([questions[o]["group"] for o in owner])
    scores = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
        scale[scale == 0] = 1.0
        model = pairwise((x[train] - mean) / scale, y[train], owner[train], c)
        scores[test] = ((x[test] - mean) / scale) @ model.coef_[0]
    return scores


def decide_ranked(questions, probs, scores, owner) -> list[tuple[float, int]]:
    """Per question: the ranker's best candidate, with the pointwise model's probability of it."""
    best: dict[int, tuple[float, float, int]] = {}
    counter: dict[int, int] = defaultdict(int)
    for p, sc, o in zip(probs, scores, owner, strict=True):
        i = counter[o]
        counter[o] += 1
        if o not in best or sc > best[o][1]:
            best[o] = (float(p), float(sc), i)
    return [(best[i][0], best[i][2]) if i in best else (0.0, -1) for i in range(len(questions))]


def decide(questions, probs, owner) -> list[tuple[float, int]]:
    """Per question: (best probability, index of the best candidate or -1)."""
    best: dict[int, tuple[float, int]] = {}
    counter: dict[int, int] = defaultdict(int)
    for p, o in zip(probs, owner, strict=True):
        i = counter[o]
        counter[o] += 1
        if o not in best or p > best[o][0]:
            best[o] = (float(p), i)
    return [best.get(i, (0.0, -1)) for i in range(len(questions))]


def hybrid(questions, probs, owner, veto: float, rescue: float) -> list[tuple[float, int]]:
    """The hand check's sentence unless the model vetoes it (p < veto); else the model's best when p >= rescue.

    Returned as (1.0, index) for an answer and (0.0, -1) for an abstention (judge with threshold 0.5).
    """
    first = FEATURES.index("first_rule")
    out = []
    rows: dict[int, list[tuple[float, int, float]]] = defaultdict(list)
    for p, o in zip(probs, owner, strict=True):
        rows[o].append(p)
    for qi, q in enumerate(questions):
        ps = rows.get(qi, [])
        pick = next((i for i, c in enumerate(q["candidates"]) if c["features"][first]), -1)
        if pick >= 0 and ps[pick] >= veto:
            out.append((1.0, pick))
            continue
        best = max(range(len(ps)), key=lambda i: ps[i], default=-1)
        if best >= 0 and ps[best] >= rescue and best != pick:
            out.append((1.0, best))
        else:
            out.append((0.0, -1))
    return out


def summary(table: dict[str, dict[str, float]]) -> str:
    import math
    keys = ("acc", "false", "on")
    avg = {k: np.mean([r[k] for r in table.values() if not math.isnan(r[k])]) for k in keys}
    off = [r["off"] for r in table.values() if not math.isnan(r["off"])]
    return (f"mean acc {100*avg['acc']:.1f} false {100*avg['false']:.1f} refused {100*avg['on']:.1f} "
            f"off {100*np.mean(off):.0f}")


def report(questions, decisions, threshold, span_pick=None) -> dict[str, dict[str, float]]:
    by_set: dict[str, list] = defaultdict(list)
    for q, d in zip(questions, decisions, strict=True):
        if q.get("request") and d[1] >= 0 and not q["candidates"][d[1]].get("covered"):
            d = (0.0, d[1])  # a request no passage answers is refused whatever the model says (answer.compose)
        by_set[q["set"]].append((q, d))
    out = {}
    for name, items in sorted(by_set.items()):
        ans = [(q, d) for q, d in items if q["answerable"]]
        una = [(q, d) for q, d in items if not q["answerable"]]
        answered = lambda d: d[1] >= 0 and d[0] >= threshold  # noqa: E731
        correct = sum(1 for q, d in ans if answered(d) and q["candidates"][d[1]]["label"])
        short = 0
        if span_pick is not None:
            short = sum(1 for q, d in ans if answered(d) and span_pick(q["candidates"][d[1]]))
        on = [x for x in una if x[0]["kind"] != "off-topic"]
        off = [x for x in una if x[0]["kind"] == "off-topic"]
        out[name] = {
            "n": len(ans),
            "acc": correct / len(ans) if ans else float("nan"),
            "false": sum(1 for _, d in ans if not answered(d)) / len(ans) if ans else float("nan"),
            "on": sum(1 for _, d in on if not answered(d)) / len(on) if on else float("nan"),
            "off": sum(1 for _, d in off if not answered(d)) / len(off) if off else float("nan"),
            "short": short / len(ans) if ans else float("nan"),
        }
    return out


def show(title: str, table: dict[str, dict[str, float]]) -> None:
    cells = "  ".join(
        f"{n[:10]:>10} {100 * r['acc']:5.1f}/{100 * r['false']:4.1f}/{100 * r['on']:5.1f}/{100 * r['off']:5.1f}"
        for n, r in table.items()
    )
    print(f"{title:28s} {cells}")


# ---- spans -----------------------------------------------------------------------------------


def span_data(questions):
    rows, labels, groups, owner = [], [], [], []
    k = 0
    for q in questions:
        for c in q["candidates"]:
            if not c["label"] or len(c["spans"]) < 2 or not any(s["label"] for s in c["spans"]):
                continue
            for s in c["spans"]:
                rows.append(s["features"])
                labels.append(s["label"])
                groups.append(q["group"])
                owner.append(k)
            k += 1
    return np.array(rows), np.array(labels), np.array(groups), np.array(owner)


def pairwise(x: np.ndarray, y: np.ndarray, owner: np.ndarray, c: float) -> LogisticRegression:
    """A ranker: logistic regression on the differences between a right and a wrong span of one sentence."""
    diffs, labels = [], []
    for o in np.unique(owner):
        sel = np.where(owner == o)[0]
        for i in sel[y[sel] == 1]:
            for j in sel[y[sel] == 0]:
                diffs += [x[i] - x[j], x[j] - x[i]]
                labels += [1, 0]
    return LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit(np.array(diffs), np.array(labels))


def span_cv(questions, c: float) -> tuple[float, float]:
    """Share of multi-span positive sentences whose picked span holds the gold: hand rule vs model."""
    x, y, groups, owner = span_data(questions)
    hand_hits, model_hits, total = 0, 0, 0
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
        scale[scale == 0] = 1.0
        model = pairwise((x[train] - mean) / scale, y[train], owner[train], c)
        score = ((x[test] - mean) / scale) @ model.coef_[0]
        for o in np.unique(owner[test]):
            sel = np.where(owner[test] == o)[0]
            total += 1
            pref = x[test][sel, 0]
            hand = sel[int(np.argmax(pref))]  # first index of the max preference = earliest
            hand_hits += int(y[test][hand])
            pick = sel[int(np.argmax(score[sel]))]
            model_hits += int(y[test][pick])
    return hand_hits / max(1, total), model_hits / max(1, total)


def fit_spans(questions, c: float) -> dict:
    x, y, _, owner = span_data(questions)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = pairwise((x - mean) / scale, y, owner, c)
    return {
        "features": list(SPAN_FEATURES), "coef": [round(float(v), 4) for v in model.coef_[0]],
        "mean": [round(float(v), 4) for v in mean], "scale": [round(float(v), 4) for v in scale],
    }  # fmt: skip


def export(model, kind: str, features: list[str], mean, scale, threshold: float) -> dict:
    out: dict = {
        "kind": kind, "features": features, "threshold": threshold,
        "mean": [round(float(v), 6) for v in mean], "scale": [round(float(v), 6) for v in scale],
    }  # fmt: skip
    if kind in ("logistic", "listwise"):
        out["coef"] = [round(float(v), 6) for v in model.coef_[0]]
        out["intercept"] = round(float(model.intercept_[0]), 6)
        return out
    out["learning_rate"] = model.learning_rate
    out["intercept"] = float(model.init_.class_prior_[1]) if hasattr(model.init_, "class_prior_") else 0.0
    prior = float(np.log(out["intercept"] / (1 - out["intercept"]))) if 0 < out["intercept"] < 1 else 0.0
    out["intercept"] = round(prior, 6)
    out["trees"] = []
    for est in model.estimators_[:, 0]:
        t = est.tree_
        out["trees"].append({
            "feature": [int(v) for v in t.feature], "threshold": [round(float(v), 6) for v in t.threshold],
            "left": [int(v) for v in t.children_left], "right": [int(v) for v in t.children_right],
            "value": [round(float(v), 6) for v in t.value[:, 0, 0]],
        })  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dumps", nargs="+")
    ap.add_argument("--kind", default="listwise", choices=["listwise", "logistic", "trees"])
    ap.add_argument("--c", type=float, default=1.0, help="C: the inverse L2 penalty, or the number of trees")
    ap.add_argument("--dev", nargs="*", default=[], help="dumps of development sets: judged by the model fitted on "
                    "every training dump (never fitted on)")  # fmt: skip
    ap.add_argument("--compare", action="store_true", help="also the hand check, the ranker and the hybrids")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--drop", default="", help="comma-separated features to leave out")
    ap.add_argument("--write", help="write the fitted weights to this Python file")
    ap.add_argument("--span-model", action="store_true", help="also write a learned span ranker (SPAN_MODEL); "
                    "without it the short answer keeps span_model's hand preference")  # fmt: skip
    ap.add_argument("--errors", action="store_true", help="list the out-of-fold mistakes at --threshold")
    args = ap.parse_args()
    questions = load(args.dumps)
    drop = {f for f in args.drop.split(",") if f}
    features = [f for f in FEATURES if f not in drop]
    x, y, owner = matrix(questions, features)
    probs = cross_validate(questions, features, args.kind, args.c)
    decisions = decide(questions, probs, owner)
    oracle = report(questions, [(1.0, next((i for i, c in enumerate(q["candidates"]) if c["label"]), 0))
                                for q in questions], 0.5)  # fmt: skip
    show("oracle (a right sentence)", oracle)
    print(f"{'':28s} " + "  ".join(f"{'set':>10} acc  /false/  on /  off /short" for _ in oracle))
    for t in THRESHOLDS:
        show(f"{args.kind} C={args.c} t={t}", report(questions, decisions, t))
    for t in THRESHOLDS:
        print(f"{args.kind} out-of-fold t={t:<5}", summary(report(questions, decisions, t)))
    if args.dev:
        dev = load(args.dev)
        model, mean, scale = fit(args.kind, args.c, x, y, weights_for(questions, owner), owner)
        xd, _, od = matrix(dev, features)
        dev_decisions = decide(dev, predict(args.kind, model, mean, scale, xd, od), od)
        for t in THRESHOLDS:
            show(f"dev t={t}", report(dev, dev_decisions, t))
    if args.errors:
        for q, (p, i) in zip(questions, decisions, strict=True):
            answered = i >= 0 and p >= args.threshold
            right = (answered and q["candidates"][i]["label"]) if q["answerable"] else not answered
            if not right:
                what = q["candidates"][i]["text"][:90] if answered else "(abstained)"
                print(f"{q['set'][:10]:10s} {p:.2f} {q['type']:11s} {q['question'][:60]:60s} | {what}")
    if args.compare:
        compare(questions, features, probs, owner, decisions, args.c)
    if args.write:
        model, mean, scale = fit(args.kind, args.c, x, y, weights_for(questions, owner), owner)
        blob = export(model, args.kind, features, mean, scale, args.threshold)
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(HEADER)
            handle.write("# ruff: noqa: E501\n# fmt: off\n")
            handle.write(f"MODEL: dict = {json.dumps(blob)}\n")
            if args.span_model:
                handle.write(f"SPAN_MODEL: dict = {json.dumps(fit_spans(questions, 1.0))}\n")
            else:
                handle.write(f"SPAN_MODEL: dict = {{}}  {NO_SPAN_MODEL}\n")
        print(f"wrote {args.write}")
    return 0


def compare(questions, features, probs, owner, decisions, c: float) -> None:
    """The hand check, a pairwise ranker and hybrids of the hand check with the model, out-of-fold."""
    ranks = cross_validate_ranker(questions, features, c)
    ranked_decisions = decide_ranked(questions, probs, ranks, owner)
    for t in THRESHOLDS:
        print(f"ranker t={t:<5}", summary(report(questions, ranked_decisions, t)))
    rule = hybrid(questions, np.ones(len(probs)), owner, 0.0, 2.0)
    print("rule          ", summary(report(questions, rule, 0.5)))
    for veto in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        for rescue in (0.3, 0.4, 0.5, 0.6, 0.7, 2.0):
            table = report(questions, hybrid(questions, probs, owner, veto, rescue), 0.5)
            print(f"veto {veto:<4} rescue {rescue:<4}", summary(table))
    hand, learned = span_cv(questions, 1.0)
    print(f"span choice on sentences with 2+ spans: hand rule {100*hand:.1f} %, learned {100*learned:.1f} %")


if __name__ == "__main__":
    sys.exit(main())
