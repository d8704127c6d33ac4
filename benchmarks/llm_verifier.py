"""What the language-model verifier changes on the labelled sets.

    python -m benchmarks.llm_verifier --url http://127.0.0.1:8080/v1 --model local \\
        --seeds seeds --index /tmp/seed-index eval/seed.jsonl [--json]

Every question is asked once without the verifier; each answer qabot gives is then put to
the model (the verifier only sees answers, so it can only add abstentions). Reported per
dataset: on-topic unanswerable questions abstained on before and after; answerable
questions abstained on (false abstentions) before and after; the verifier's time per
question (p50, p90); and how often the model could not be used (down, slow, not yes/no).
The model, the server and the machine's load decide the figures: say which model ran.
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

from qabot.evaluate import EvalItem, load_dataset


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
    verified: int = 0  # answers put to the model
    model_failures: int = 0
    seconds: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        times = sorted(data.pop("seconds"))
        data["verifier_ms_p50"] = round(1000 * statistics.median(times), 1) if times else None
        data["verifier_ms_p90"] = round(1000 * times[int(0.9 * (len(times) - 1))], 1) if times else None
        return data


def run(plain: Any, checked: Any, items: list[EvalItem], dataset: str, model: str) -> VerifierReport:
    """Ask every item with `plain` (verifier off) and, where it answers, with `checked` (verifier on)."""
    report = VerifierReport(dataset, model)
    for item in items:
        before = plain.ask(item.question).abstained
        after = before
        if not before:
            report.verified += 1
            began = time.perf_counter()
            answer = checked.ask(item.question)
            wall = time.perf_counter() - began
            after = answer.abstained
            report.model_failures += bool(answer.warnings)
            report.seconds.append(float(answer.signals.get("llm_seconds", wall)))
        if item.answerable:
            report.answerable += 1
            report.false_abstentions_before += before
            report.false_abstentions_after += after
        else:
            report.unanswerable += 1
            report.abstained_unanswerable_before += before
            report.abstained_unanswerable_after += after
    return report


def render(report: VerifierReport) -> str:
    data = report.to_json()
    return (
        f"{report.dataset} ({report.model}): on-topic unanswerable abstained "
        f"{report.abstained_unanswerable_before}/{report.unanswerable} -> {report.abstained_unanswerable_after}/"
        f"{report.unanswerable}; false abstentions {report.false_abstentions_before}/{report.answerable} -> "
        f"{report.false_abstentions_after}/{report.answerable}; verifier p50 {data['verifier_ms_p50']} ms, "
        f"p90 {data['verifier_ms_p90']} ms over {report.verified} answers; model failures {report.model_failures}"
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
    for dataset in args.datasets:
        report = run(plain, checked, load_dataset(dataset), dataset.name, f"{args.model} at {args.url}")
        print(json.dumps(report.to_json()) if args.json else render(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
