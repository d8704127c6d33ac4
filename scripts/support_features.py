"""Dump the learned support check's candidate features with labels, for scripts/fit_support.py.

For each question of each dataset: the question's best DEPTH candidate sentences (as `qabot ask`
ranks them), each with its FEATURES row and label (1 when the sentence holds a gold answer), and
each candidate's typed spans with their own span features and labels. One JSON line per question.

    python scripts/support_features.py --seeds seeds --index /tmp/seed-index eval/seed.jsonl > /tmp/seed.feat
    python scripts/support_features.py --seeds data/both --index /tmp/both \\
        eval/wiki.jsonl eval/wiki-train.jsonl eval/honesty-train.jsonl eval/followups.jsonl > /tmp/both.feat
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path, PurePosixPath

from qabot import QAEngine, Settings
from qabot.answer import TITLE_SPARE, candidates, question_weights, request_covered, support_context, unknown_share
from qabot.evaluate import answer_contains, load_dataset
from qabot.question import analyze, depends_on_history, find_spans, with_history
from qabot.retriever import FusionParams, retrieve
from qabot.span_model import span_feature_rows, widened
from qabot.support_model import REQUEST, feature_matrix

DEPTH = 10
# Held-out sets that have judged their round and became training data (docs/quality.md #65); any
# other honesty-heldout*.jsonl (the current fresh set) is refused.
DEVELOPMENT = frozenset({"honesty-heldout.jsonl", "honesty-heldout2.jsonl", "honesty-heldout3.jsonl"})


def group_of(evidence: str | None, top_source: str | None) -> str:
    """The document a question is about (for grouped cross-validation)."""
    if evidence and evidence.endswith((".txt", ".md")):
        return PurePosixPath(evidence).name
    if evidence:
        return "000_1e0f96428eb82f3b.txt"  # a verbatim quote: only the seed article's sets use them
    return top_source or "?"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--seeds", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    args = ap.parse_args()
    for path in args.datasets:  # before anything is read
        if path.name.startswith("honesty-heldout") and path.name not in DEVELOPMENT:
            raise SystemExit(f"{path}: a held-out set is never dumped (fitting or tuning)")
    engine = QAEngine.from_settings(Settings(seeds_dir=args.seeds, index_dir=args.index))
    s, reader = engine.settings, engine.reader
    for path in args.datasets:
        for item in load_dataset(path):
            text = engine.check_question(item.question)
            earlier = ""
            if item.history and depends_on_history(text):
                earlier = " ".join(item.history[-2:])
            query = f"{earlier} {text}" if earlier else text
            qvec = engine.embedder.embed_query(query)
            hits = retrieve(reader, query, qvec, max(s.top_k, s.answer_passages + TITLE_SPARE),
                            FusionParams.from_settings(s))  # fmt: skip
            ranked = candidates(reader, text, qvec, hits, s.answer_passages, context=earlier)
            idf = question_weights(reader, query)
            analysis = with_history(analyze(text), earlier)
            top = ranked[:DEPTH]
            ctx = support_context(analysis, hits, top, idf, unknown_share(reader, text), engine.embedder.embed_query)
            rows = feature_matrix(analysis, top, ctx).tolist() if top else []
            cands = []
            for cand, row in zip(top, rows, strict=True):
                is_title = cand.title != "" and cand.text.strip() == cand.title
                found = find_spans(analysis, cand.text, is_title=is_title)
                spans = widened(analysis, cand.text, found)
                span_rows = span_feature_rows(analysis, cand.text, found)
                passage = hits[cand.passage_rank].text if cand.passage_rank < len(hits) else cand.text
                cands.append({
                    "source": cand.source, "title": cand.title, "text": cand.text, "features": row,
                    "covered": int(request_covered(text, cand, passage)),
                    "label": int(item.answerable and answer_contains(cand.text, item.answers)),
                    "spans": [{"text": cand.text[a:b], "features": r,
                               "label": int(item.answerable and answer_contains(cand.text[a:b], item.answers))}
                              for (a, b), r in zip(spans, span_rows, strict=True)],
                })  # fmt: skip
            print(json.dumps({
                "set": path.stem, "line": item.line, "question": item.question, "answers": list(item.answers),
                "answerable": item.answerable, "kind": item.kind, "type": analysis.answer_type,
                "group": group_of(item.evidence, hits[0].source if hits else None), "candidates": cands,
                "request": int(bool(REQUEST.search(text))),
            }, ensure_ascii=False))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
