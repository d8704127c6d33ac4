"""What the language-model verifier changes on the labelled sets.

    python -m benchmarks.llm_verifier --url http://127.0.0.1:8080/v1 --model local \\
        --seeds seeds --index /tmp/seed-index eval/seed.jsonl [--json]

Every question is asked once without the verifier; each answer qabot gives is then put to
the model (the verifier only sees answers, so it can only add abstentions). Reported per
dataset, before and after: unanswerable questions abstained on (on-topic and off-topic
apart when the set marks `kind`); answerable questions abstained on (false abstentions);
answer accuracy (the answer holds a gold string, as `qabot eval` counts it); the verifier's
time per verified answer (p50, p90, p95) and the whole `ask` with the verifier (p50, p95);
and how often the model could not be used (down, slow, not yes/no). `--json` adds one row per
verified answer (question, whether answerable, P(yes), abstained after). The model, the
server and the machine's load decide the figures: say which model ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qabot.evaluate import EvalItem, answer_contains, load_dataset


@dataclass
class VerifierReport:
    dataset: str
    model: str
    answerable: int = 0
    unanswerable: int = 0
    abstained_unanswerable_before: int = 0
    abstained_unanswerable_after: int = 0
    false_abstentions_before: int = 0
    false_abstentions_after: int = 0
    on_topic: int = 0  # unanswerable lines marked "kind": "on-topic" / "off-topic"
    on_topic_abstained_before: int = 0
    on_topic_abstained_after: int = 0
    off_topic: int = 0
    off_topic_abstained_before: int = 0
    off_topic_abstained_after: int = 0
    correct_before: int = 0  # answerable questions whose answer holds a gold string
    correct_after: int = 0
    verified: int = 0  # answers put to the model
    model_failures: int = 0
    seconds: list[float] = field(default_factory=list)  # the model call, per verified answer
    ask_seconds: list[float] = field(default_factory=list)  # the whole ask with the verifier
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, verdicts: bool = False) -> dict[str, Any]:
        data = asdict(self)
        times = sorted(data.pop("seconds"))
        asks = sorted(data.pop("ask_seconds"))
        rows = data.pop("verdicts")
        data["verifier_ms_p50"] = _ms(times, 0.5)
        data["verifier_ms_p90"] = _ms(times, 0.9)
        data["verifier_ms_p95"] = _ms(times, 0.95)
        data["ask_ms_p50"] = _ms(asks, 0.5)
        data["ask_ms_p95"] = _ms(asks, 0.95)
        data["by_threshold"] = by_threshold({**data, "verdicts": rows})
        if verdicts:
            data["verdicts"] = rows
        return data


THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


def by_threshold(row: dict[str, Any], thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, dict[str, int]]:
    """What the verifier would change if "no" were P(yes) below t, from a report's verdicts (JSON row).

    For each t: unanswerable questions abstained on (on-topic apart), false abstentions, right answers.
    """
    out: dict[str, dict[str, int]] = {}
    for t in thresholds:
        refused = [v for v in row["verdicts"] if v["p_yes"] is not None and v["p_yes"] < t]
        out[f"{t:g}"] = {
            "abstained_unanswerable": row["abstained_unanswerable_before"] + sum(not v["answerable"] for v in refused),
            "on_topic_abstained": row["on_topic_abstained_before"] + sum(v["kind"] == "on-topic" for v in refused),
            "false_abstentions": row["false_abstentions_before"] + sum(bool(v["answerable"]) for v in refused),
            "correct": row["correct_before"] - sum(bool(v["correct_before"]) for v in refused),
        }
    return out


def _ms(times: list[float], q: float) -> float | None:
    """The q-quantile of sorted seconds in milliseconds (the median for 0.5), None when empty."""
    if not times:
        return None
    if q == 0.5:
        return round(1000 * statistics.median(times), 1)
    return round(1000 * times[int(q * (len(times) - 1))], 1)


def run(
    plain: Any, checked: Any, items: list[EvalItem], dataset: str, model: str, progress: Any = None
) -> VerifierReport:
    """Ask every item with `plain` (verifier off) and, where it answers, with `checked` (verifier on).

    `progress(done, total)` is called after each item when given.
    """
    report = VerifierReport(dataset, model)
    for done, item in enumerate(items, start=1):
        _count(report, item, plain, checked)
        if progress is not None:
            progress(done, len(items))
    return report


def _count(report: VerifierReport, item: EvalItem, plain: Any, checked: Any) -> None:
    """Ask one item without and (when it is answered) with the verifier; add the outcome to report."""
    first = plain.ask(item.question)
    before = after = first.abstained
    right_before = right_after = item.answerable and answer_contains(first.text, item.answers)
    if not before:
        report.verified += 1
        began = time.perf_counter()
        answer = checked.ask(item.question)
        wall = time.perf_counter() - began
        after = answer.abstained
        right_after = item.answerable and answer_contains(answer.text, item.answers)
        report.model_failures += bool(answer.warnings)
        report.seconds.append(float(answer.signals.get("llm_seconds", wall)))
        report.ask_seconds.append(wall)
        p_yes = answer.signals.get("llm_p_yes")
        report.verdicts.append(
            {"line": item.line, "question": item.question, "answerable": item.answerable, "kind": item.kind,
             "correct_before": right_before, "p_yes": None if p_yes is None else round(float(p_yes), 3),
             "abstained_after": after}
        )  # fmt: skip
    if item.answerable:
        report.answerable += 1
        report.false_abstentions_before += before
        report.false_abstentions_after += after
        report.correct_before += right_before
        report.correct_after += right_after
        return
    report.unanswerable += 1
    report.abstained_unanswerable_before += before
    report.abstained_unanswerable_after += after
    if item.kind == "on-topic":
        report.on_topic += 1
        report.on_topic_abstained_before += before
        report.on_topic_abstained_after += after
    elif item.kind == "off-topic":
        report.off_topic += 1
        report.off_topic_abstained_before += before
        report.off_topic_abstained_after += after


def render(report: VerifierReport) -> str:
    data = report.to_json()
    r = report
    kinds = ""
    if r.on_topic or r.off_topic:
        kinds = (
            f" (on-topic {r.on_topic_abstained_before}/{r.on_topic} -> {r.on_topic_abstained_after}/{r.on_topic}, "
            f"off-topic {r.off_topic_abstained_before}/{r.off_topic} -> {r.off_topic_abstained_after}/{r.off_topic})"
        )
    return (
        f"{r.dataset} ({r.model}): unanswerable abstained {r.abstained_unanswerable_before}/{r.unanswerable} -> "
        f"{r.abstained_unanswerable_after}/{r.unanswerable}{kinds}; false abstentions "
        f"{r.false_abstentions_before}/{r.answerable} -> {r.false_abstentions_after}/{r.answerable}; correct "
        f"{r.correct_before}/{r.answerable} -> {r.correct_after}/{r.answerable}; verifier p50 "
        f"{data['verifier_ms_p50']} ms, p95 {data['verifier_ms_p95']} ms over {r.verified} answers (whole ask p50 "
        f"{data['ask_ms_p50']} ms, p95 {data['ask_ms_p95']} ms); model failures {r.model_failures}"
    )


def main(argv: list[str] | None = None) -> int:
    from qabot.engine import QAEngine
    from qabot.settings import Settings

    p = argparse.ArgumentParser(prog="python -m benchmarks.llm_verifier", description=__doc__)
    p.add_argument("datasets", nargs="+", type=Path, help="labelled JSONL sets (eval/*.jsonl)")
    p.add_argument("--url", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--model", required=True, help="model name the server knows")
    p.add_argument("--seeds", type=Path, default=Path("seeds"))
    p.add_argument("--index", type=Path, default=Path("index"))
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--json", action="store_true", help="one JSON object per dataset")
    args = p.parse_args(argv)
    settings = Settings(  # type: ignore[call-arg]
        seeds_dir=args.seeds, index_dir=args.index, llm_url=args.url, llm_model=args.model,
        llm_timeout=args.timeout, _env_file=None,
    )  # fmt: skip
    plain = QAEngine(settings)
    plain.reload(force=True)
    checked = QAEngine(settings.model_copy(update={"llm_verify": True}), embedder=plain.embedder)
    checked.reload(force=True)

    def progress(done: int, total: int) -> None:
        if done % 10 == 0:
            print(f"{done}/{total}", file=sys.stderr, flush=True)

    for dataset in args.datasets:
        report = run(plain, checked, load_dataset(dataset), dataset.name, f"{args.model} at {args.url}", progress)
        print(json.dumps(report.to_json(verdicts=True)) if args.json else render(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
