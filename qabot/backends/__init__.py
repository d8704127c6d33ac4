"""Where the index is read from: the index folder (FAISS, the default) or Milvus (QABOT_BACKEND=milvus).

Every build runs in the index folder (chunking, the embedding cache, BM25 words); with Milvus,
`publish` then copies the new generation into the server and switches its alias. Questions are
read through an IndexView (base.py) from either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import IndexInfo
from ..settings import Settings
from .base import IndexView

if TYPE_CHECKING:
    from ..builder import BuildProgress

__all__ = ["IndexView", "current_name", "describe", "open_index", "publish", "status"]


def current_name(settings: Settings, view: IndexView | None = None) -> str | None:
    """Name of the generation in use (None when nothing has been built): cheap, for reload checks.

    With the view in use, its own connection asks (Milvus)."""
    if settings.backend == "milvus":
        from .milvus_client import connect
        from .milvus_publish import current_collection

        client = getattr(view, "client", None) or connect(settings)
        return current_collection(settings, client)
    from . import faiss

    return faiss.current_name(settings)


def open_index(settings: Settings, model: str) -> IndexView:
    """The generation in use, validated (IndexMissing, IndexMismatch, IndexUnreachable...)."""
    if settings.backend == "milvus":
        from .milvus_reader import MilvusIndex

        return MilvusIndex(settings, model)
    from . import faiss

    return faiss.open_index(settings, model)


def publish(settings: Settings, model: str, progress: BuildProgress | None = None) -> str | None:
    """After a build in the index folder: make it the generation the backend serves (its name;
    None for the folder, where the build itself switched CURRENT)."""
    if settings.backend == "milvus":
        from .milvus_publish import publish as publish_milvus

        return publish_milvus(settings, model, progress)
    return None


def describe(settings: Settings, view: IndexView, stale: list[str]) -> IndexInfo:
    """What `index status`, the REPL and `/sources` show about the generation in use."""
    from .. import store

    if settings.backend == "milvus":
        from .milvus_client import where

        bm25 = getattr(view, "bm25", "milvus")
        place = f"{where(settings)}, alias {settings.milvus_collection!r} (BM25: {bm25})"
        return store.describe(place, view.generation, stale, list(view.sources()))
    return store.describe(settings.index_dir, view.generation, stale)


def seeds_compared(settings: Settings, manifest: dict[str, Any]) -> Path:
    """The seeds folder a staleness check compares with an index: the one given (flag,
    QABOT_SEEDS_DIR or code), else the folder the index was built from."""
    if "seeds_dir" not in settings.model_fields_set and manifest.get("seeds_dir"):
        return Path(manifest["seeds_dir"])
    return settings.seeds_dir


def folder_stale_count(settings: Settings) -> tuple[str, int] | None:
    """(generation, how many sources are stale) for the index folder's generation in use, read
    without opening the index (`QAEngine.stale_count` once it is open): a one-shot `qabot ask`
    stats the seeds folder while the index opens. None for Milvus, or without a usable generation."""
    from .. import store
    from ..errors import QabotError

    if settings.backend == "milvus":
        return None
    try:
        gen = store.open_generation(settings.index_dir)
    except QabotError:
        return None
    return gen.name, store.stale_count(seeds_compared(settings, gen.manifest), gen)


def stale_sources(settings: Settings, view: IndexView, seeds: Path) -> list[str]:
    """Sources added, changed or removed in `seeds` since the generation in use was built."""
    from .. import store

    if settings.backend != "milvus":
        return store.stale_sources(seeds, view.generation)
    from ..errors import SourceError
    from ..loader import list_sources

    recorded: dict[str, dict[str, Any]] = view.manifest.get("milvus", {}).get("sources", {})
    try:
        files = list_sources(seeds)
    except SourceError:
        return sorted(s for s, r in recorded.items() if not r.get("skipped"))
    changed = [f.source for f in files if f.source not in recorded or store.content_changed(f, recorded[f.source])]
    present = {f.source for f in files}
    return sorted(changed + [s for s in recorded if s not in present])


def status(settings: Settings, model: str) -> IndexInfo:
    """`qabot index status`: open the index in use (files or server) and describe it."""
    if settings.backend != "milvus":
        from . import faiss

        return faiss.status(settings, model)
    view = open_index(settings, model)
    try:
        manifest = view.manifest
        seeds = settings.seeds_dir
        if "seeds_dir" not in settings.model_fields_set and manifest.get("seeds_dir"):
            seeds = Path(manifest["seeds_dir"])
        return describe(settings, view, stale_sources(settings, view, seeds))
    finally:
        view.close()
