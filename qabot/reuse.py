"""Chunk plans of unchanged documents, read back from the generation in use.

Cutting 10,000 documents into sentences takes seconds (syntok is pure Python); when a
document's bytes and the chunker settings are the same as in the generation in use, its
paragraphs, sentences and chunks are the same too, so an incremental build reads them back
instead of planning them again. The result is identical to `plan_chunks` (tested).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from . import store
from .chunker import TITLE_MAX_CHARS, ChunkPlan
from .records import Chunk, Document, Span


def previous_plans(gen: store.Generation, chunking: dict[str, Any], docs: list[Document]) -> dict[str, ChunkPlan]:
    """Plans for the documents of `docs` whose bytes are unchanged since `gen` was built."""
    if gen.manifest.get("chunker") != chunking:
        return {}
    by_source = {d.source: d for d in docs}
    try:
        conn = store.connect(gen.path / store.META)
        try:
            wanted: dict[int, Document] = {}
            for doc_id, source, sha256 in conn.execute("SELECT id, source, sha256 FROM documents"):
                doc = by_source.get(source)
                if doc is not None and doc.sha256 == sha256:
                    wanted[doc_id] = doc
            # Two ordered scans (no per-document queries: the tables have no doc_id index).
            sentences: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
            for sid, doc_id, start, end in conn.execute('SELECT id, doc_id, start, "end" FROM sentences ORDER BY id'):
                if doc_id in wanted:
                    sentences[doc_id].append((sid, start, end))
            chunks: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
            for row in conn.execute('SELECT doc_id, start, "end", sent_lo, sent_hi, titled FROM chunks ORDER BY id'):
                if row[0] in wanted:
                    chunks[row[0]].append(row[1:])
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {doc.source: _plan(doc, sentences[doc_id], chunks[doc_id]) for doc_id, doc in wanted.items()}


def _plan(
    doc: Document, sent_rows: list[tuple[int, int, int]], chunk_rows: list[tuple[int, int, int, int, int]]
) -> ChunkPlan:
    first = sent_rows[0][0] if sent_rows else 0
    sentences = tuple(Span(a, b) for _, a, b in sent_rows)
    title = doc.title[:TITLE_MAX_CHARS]
    chunks: list[Chunk] = []
    ranges: list[tuple[int, int]] = []
    inputs: list[str] = []
    for start, end, lo, hi, titled in chunk_rows:
        text = doc.text[start:end]
        local = (lo - first, hi - first)
        chunks.append(Chunk(doc.source, start, end, text, sentences[local[0] : local[1]]))
        ranges.append(local)
        inputs.append(f"{title}\n{text}" if titled else text)
    return ChunkPlan(doc, sentences, tuple(chunks), tuple(ranges), tuple(inputs))
