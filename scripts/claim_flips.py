"""How the writer's claim check treats sentences taken from real documents, verbatim and flipped.

    python scripts/claim_flips.py data/wiki-seeds [--docs 3000] [--seed 11]

From the first paragraph of at least 200 characters of each of the first N documents (in an
order shuffled with the seed), every sentence is checked as a written sentence citing that
paragraph ([1]): verbatim (it must be kept), and with its meaning flipped using the
paragraph's own words (it must be dropped): a number swapped for another number of the
paragraph, "not" added after the first is/was/are/were, a word replaced by its opposite
("before" -> "after"). Sentences the writer's splitter would cut in two ("D.C. is") are left
out. No model is involved: this measures the check alone.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from qabot.llm.write import OPPOSITES, check, split_sentences

_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_COPULA = re.compile(r"\b(is|was|are|were)\b")


def flips(sentence: str, paragraph: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, flipped sentence) for each way the sentence can be flipped with the paragraph's words."""
    out: list[tuple[str, str]] = []
    found = _NUMBER.findall(sentence)
    others = sorted(set(_NUMBER.findall(paragraph)) - set(found))
    if found and others:
        x, y = rng.choice(found), rng.choice(others)
        out.append(("number swapped", re.sub(rf"\b{re.escape(x)}\b", y, sentence, count=1)))
    copula = _COPULA.search(sentence)
    if copula and " not " not in sentence:
        out.append(("negation added", f"{sentence[: copula.end()]} not{sentence[copula.end() :]}"))
    words = sentence.lower().split()
    for word in words:
        if word in OPPOSITES and OPPOSITES[word] not in words:
            flipped = re.sub(rf"\b{word}\b", OPPOSITES[word], sentence, count=1, flags=re.IGNORECASE)
            out.append(("opposite word", flipped))
            break
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path, help="folder of .txt documents")
    p.add_argument("--docs", type=int, default=3000)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    names = sorted(path.name for path in args.corpus.glob("*.txt"))
    rng.shuffle(names)
    counts: dict[str, list[int]] = {"verbatim (kept)": [0, 0]}
    for name in names[: args.docs]:
        text = (args.corpus / name).read_text(encoding="utf-8")
        paragraph = next((" ".join(p.split()) for p in text.split("\n\n") if len(" ".join(p.split())) >= 200), None)
        if paragraph is None:
            continue
        for sentence in (s for s in re.split(r"(?<=[.!?])\s+", paragraph) if len(s) > 30):
            if len(split_sentences(f"{sentence.rstrip('.')} [1].")) != 1:
                continue
            kept = counts["verbatim (kept)"]
            kept[0] += 1
            kept[1] += check(f"{sentence.rstrip('.')} [1].", [paragraph])[0].supported
            for kind, flipped in flips(sentence, paragraph, rng):
                row = counts.setdefault(f"{kind} (dropped)", [0, 0])
                row[0] += 1
                row[1] += not check(f"{flipped.rstrip('.')} [1].", [paragraph])[0].supported
    for what, (total, right) in counts.items():
        print(f"{what}: {right} / {total} ({100 * right / max(total, 1):.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
