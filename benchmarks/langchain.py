"""Benchmark helper: the usual stack on the same corpus and questions, in a child process.

    python -m benchmarks.langchain SEEDS QUESTIONS.jsonl [MORE.jsonl ...] [-k 5]

The LangChain recipe people copy: TextLoader per file, RecursiveCharacterTextSplitter
(chunk_size=1000, chunk_overlap=200, add_start_index=True), `FAISS.from_documents` with
`HuggingFaceEmbeddings` of the same local model folder qabot uses (sentence-transformers
underneath), then `similarity_search(question, k)`. Build time runs from reading the files
to the finished store (the model is loaded before, as qabot's build timing also excludes it).
Recall@k uses qabot.evaluate's own judge on the returned chunks (source, start_index).
Needs the optional extra: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

from .corpus import load, percentile, questions_for


def run(seeds: Path, questions: Path | list[Path], k: int = 5) -> dict[str, Any]:
    from qabot.embedder import offline_environment, resolve_model_path
    from qabot.evaluate import DocumentCache, citation_matches
    from qabot.records import Citation
    from qabot.settings import PACKAGED_MODEL

    offline_environment()
    warnings.filterwarnings("ignore")
    from langchain_community.document_loaders import TextLoader
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=str(resolve_model_path(PACKAGED_MODEL)))
    embeddings.embed_documents(["warm up the model with a sentence of ordinary length."] * 64)

    files = sorted(p for p in seeds.rglob("*") if p.is_file() and p.suffix in {".txt", ".md"})
    began = time.perf_counter()
    docs = []
    for file in files:
        for doc in TextLoader(str(file), encoding="utf-8").load():
            doc.metadata["source"] = file.relative_to(seeds).as_posix()
            docs.append(doc)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    build_s = time.perf_counter() - began

    files_q = questions if isinstance(questions, list) else [questions]
    sets = {q.name: questions_for(load(q), {f.name for f in files}) for q in files_q}
    items = [item for part in sets.values() for item in part]
    set_of = {id(item): name for name, part in sets.items() for item in part}
    per_set: dict[str, list[int]] = {name: [0, 0] for name in sets}
    store.similarity_search(items[0].question, k=k)
    cache = DocumentCache(seeds)
    times: list[float] = []
    found = 0
    judged = 0
    missed: list[str] = []
    for item in items:
        t0 = time.perf_counter()
        got = store.similarity_search(item.question, k=k)
        times.append((time.perf_counter() - t0) * 1000.0)
        if item.answerable and item.evidence:
            judged += 1
            cites = [
                Citation(
                    d.metadata["source"],
                    int(d.metadata["start_index"]),
                    int(d.metadata["start_index"]) + len(d.page_content),
                    d.page_content,
                    0.0,
                )
                for d in got
            ]
            hit = any(citation_matches(item.evidence, c, cache) for c in cites)
            found += hit
            per_set[set_of[id(item)]][0] += hit
            per_set[set_of[id(item)]][1] += 1
            if not hit:
                missed.append(item.question)
    return {
        "documents": len(files),
        "chunks": len(chunks),
        "build_s": round(build_s, 2),
        "query_p50_ms": round(percentile(times, 50) or 0.0, 2),
        "query_p95_ms": round(percentile(times, 95) or 0.0, 2),
        "queries": len(times),
        "recall_at_k": round(found / judged, 4) if judged else None,
        "k": k,
        "questions": judged,
        "missed": missed,
        "recall_per_set": {name: round(h / n, 4) if n else None for name, (h, n) in per_set.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", type=Path)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.seeds, args.questions, args.k)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
