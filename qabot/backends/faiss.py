"""The default backend: the index folder (FAISS + BM25 arrays + SQLite), as store/reader define it."""

from __future__ import annotations

from .. import store
from ..reader import IndexReader
from ..records import IndexInfo
from ..settings import Settings


def current_name(settings: Settings) -> str | None:
    """Name of the generation CURRENT points at (None when nothing has been built)."""
    path = store.current_generation(settings.index_dir)
    return None if path is None else path.name


def open_index(settings: Settings, model: str) -> IndexReader:
    return IndexReader(store.open_generation(settings.index_dir, model=model))


def status(settings: Settings, model: str) -> IndexInfo:
    """What `qabot index status` prints: the files are opened, not just the manifest read."""
    generation = store.open_generation(settings.index_dir, model=model)
    IndexReader(generation).close()
    stale = store.stale_sources(settings.seeds_dir, generation)
    return store.describe(settings.index_dir, generation, stale)
