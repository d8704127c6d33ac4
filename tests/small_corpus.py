"""A real engine over a few documents written by a test (the real model, a real index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def engine_over(base: Path, embedder: Any, documents: dict[str, str]) -> Any:
    """A QAEngine over `documents` (file name -> text) written under `base`/seeds, indexed in `base`/index."""
    from qabot import QAEngine, Settings

    seeds = base / "seeds"
    seeds.mkdir()
    for name, text in documents.items():
        (seeds / name).write_text(text, encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=base / "index", _env_file=None)  # type: ignore[call-arg]
    return QAEngine.from_settings(settings, embedder=embedder)
