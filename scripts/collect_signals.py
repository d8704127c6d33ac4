"""Run a dataset with abstention off and dump each question's answer signals and labels (JSONL).

python scripts/collect_signals.py eval/seed.jsonl --seeds seeds --index /tmp/seed-index > /tmp/seed-signals.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qabot import QAEngine, Settings
from qabot.evaluate import load_dataset, run_eval


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--seeds", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    args = ap.parse_args()
    settings = Settings(seeds_dir=args.seeds, index_dir=args.index, abstain_threshold=0.0)
    engine = QAEngine.from_settings(settings)
    report = run_eval(engine, load_dataset(args.dataset))
    for item in report.to_json()["items"]:
        print(json.dumps(item, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
