"""How one qabot generation is laid out in Milvus: names, fields, and what the server can do.

    PREFIX                      alias naming the generation in use (alter_alias switches it atomically)
    PREFIX_gen_000007           one row per chunk: vector, text and spans, its sentences (spans and
                                float16 vectors), and its BM25 words (stems), with Milvus's BM25
                                function where the server has full-text search (Milvus >= 2.5, Lite 3.x)
    PREFIX_gen_000007_meta      the manifest, each BM25 word's document frequency, document texts

The chunk collection is the generation: the alias names it, and its companion _meta collection is
found by name. The manifest rows are written last, so a generation without them is incomplete.
"""

from __future__ import annotations

import re
from typing import Any

LAYOUT_VERSION = 1
GEN_INFIX = "_gen_"
META_SUFFIX = "_meta"
TEXT_MAX = 65_535  # VARCHAR bytes
DOC_PIECE = 16_000  # characters of a document per meta row (4 UTF-8 bytes each at most)
MANIFEST_PIECE = 16_000
TERM_MAX = 4_000
SOURCE_MAX = 4_096
FLAT_UP_TO = 100_000  # chunks searched exactly (as FAISS Flat); HNSW above
HNSW_EF = 128
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, which the folder backend's BM25 uses
META_DIM = 2  # Milvus wants a vector field in every collection; the meta rows carry zeros

CHUNK_FIELDS = [
    "id", "doc_id", "source", "span_start", "span_end", "sent_lo", "sent_hi", "doc_first",
    "text", "sentences", "sentence_vectors", "vector",
]  # fmt: skip


def generation_collection(prefix: str, number: int) -> str:
    return f"{prefix}{GEN_INFIX}{number:06d}"


def meta_collection(collection: str) -> str:
    return collection + META_SUFFIX


def generation_number(prefix: str, name: str) -> int | None:
    """The number of a generation collection of this prefix (None for any other name)."""
    m = re.fullmatch(re.escape(prefix) + GEN_INFIX + r"(\d{6,})", name)
    return int(m.group(1)) if m else None


def has_full_text_search(version: str) -> bool:
    """Whether a server of this version has the BM25 function (Milvus 2.5+, Milvus Lite 3.x)."""
    if "lite" in version.lower():
        m = re.search(r"(\d+)\.(\d+)", version)
        return bool(m) and int(m.group(1)) >= 3  # type: ignore[union-attr]
    m = re.search(r"(\d+)\.(\d+)", version)
    if not m:
        return False
    major, minor = int(m.group(1)), int(m.group(2))
    return (major, minor) >= (2, 5)


def chunk_schema(client: Any, dim: int, full_text: bool) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("doc_id", DataType.INT64)
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_MAX)
    schema.add_field("span_start", DataType.INT64)
    schema.add_field("span_end", DataType.INT64)
    schema.add_field("sent_lo", DataType.INT64)
    schema.add_field("sent_hi", DataType.INT64)
    schema.add_field("doc_first", DataType.INT64)  # where the document's first line begins (the title)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)  # the chunk: document text[start:end]
    schema.add_field("sentences", DataType.VARCHAR, max_length=TEXT_MAX)  # JSON [[id, start, end], ...]
    schema.add_field("sentence_vectors", DataType.VARCHAR, max_length=TEXT_MAX)  # base64 float16 rows
    if full_text:
        schema.add_field(
            "lexical", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"],
                output_field_names=["sparse"],
            )
        )
    else:
        schema.add_field("lexical", DataType.VARCHAR, max_length=TEXT_MAX)
    return schema


def chunk_index_params(client: Any, chunks: int, full_text: bool) -> Any:
    params = client.prepare_index_params()
    if chunks <= FLAT_UP_TO:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    else:
        params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
    if full_text:
        params.add_index(
            "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )  # fmt: skip
    return params


def meta_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=TERM_MAX + 16)
    schema.add_field("grp", DataType.VARCHAR, max_length=64)  # "manifest", "t:<initial>", "d:<doc id>"
    schema.add_field("num", DataType.INT64)  # piece number, or a word's document frequency
    schema.add_field("value", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=META_DIM)
    return schema


def meta_index_params(client: Any) -> Any:
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="L2")
    return params


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
