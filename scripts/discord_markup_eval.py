"""How Discord markup in questions affects answers, raw and cleaned as the bot cleans them.

    python scripts/discord_markup_eval.py [--dataset eval/seed.jsonl] [--seeds seeds]

Builds an index of --seeds in a temporary folder, then for each answerable question of the
dataset asks it plainly, with markup added (a role mention after it, a user mention before
it, a channel link, a custom emoji, markdown), and with that markup cleaned by
qabot.bot.markup.clean_question; prints how many answers hold a gold string in each case.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from qabot import QAEngine, Settings
from qabot.bot.markup import clean_question
from qabot.evaluate import answer_contains, load_dataset

NAMES = {"role": "Moderators", "user": "alice", "channel": "general"}
VARIANTS: dict[str, Callable[[str], str]] = {
    "role mention": lambda q: f"{q} <@&123456789012345678>",
    "user mention": lambda q: f"<@234567890123456789> {q}",
    "channel link": lambda q: f"{q} <#345678901234567890>",
    "custom emoji": lambda q: f"{q} <:thinking:123456789012345678>",
    "markdown": lambda q: f"**{q}**",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("eval/seed.jsonl"))
    parser.add_argument("--seeds", type=Path, default=Path("seeds"))
    args = parser.parse_args()
    items = [i for i in load_dataset(args.dataset) if i.answerable]
    with tempfile.TemporaryDirectory(prefix="qabot-markup-") as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(args.seeds, seeds)
        engine = QAEngine.from_settings(Settings(seeds_dir=seeds, index_dir=Path(tmp) / "index", _env_file=None))  # type: ignore[call-arg]

        def correct(make: Callable[[str], str]) -> int:
            return sum(answer_contains(engine.ask(make(i.question)).text, i.answers) for i in items)

        print(f"{'plain':13s} {correct(lambda q: q)}/{len(items)}")
        for name, add in VARIANTS.items():
            raw = correct(add)
            cleaned = correct(lambda q, add=add: clean_question(add(q), lambda kind, _id: NAMES[kind]))  # type: ignore[misc]
            print(f"{name:13s} raw {raw}/{len(items)}  cleaned {cleaned}/{len(items)}")
        engine.close()


if __name__ == "__main__":
    main()
