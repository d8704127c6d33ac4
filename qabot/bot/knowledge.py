"""One knowledge base per server, with the shared index as fallback; documents added from Discord.

    knowledge = Knowledge(shared_engine, guilds_dir=Path("/srv/qabot/guilds"))
    engine, name = knowledge.engine_for(guild_id)      # the server's own index, else the shared one
    path = knowledge.save_upload(guild_id, "faq.md", data, max_bytes=5_000_000)
    knowledge.own_engine(guild_id).build()

A server has its own knowledge base when `<guilds_dir>/<server id>/seeds` exists; its index
lives beside it in `<guilds_dir>/<server id>/index`. Until that index is built the server
is answered from the shared index. Per-server engines share the shared engine's model.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..engine import QAEngine
from ..errors import IndexUnusable, SourceError
from ..loader import SUFFIXES

log = logging.getLogger("qabot.bot")

SHARED = "shared"
_UNSAFE = re.compile(r"[^\w.\- ]+")


def upload_name(filename: str, size: int, max_bytes: int) -> str:
    """The name an uploaded file is saved under, or SourceError saying why it is refused."""
    kinds = ", ".join(sorted(SUFFIXES))
    raw = unicodedata.normalize("NFC", filename or "").strip()
    if size > max_bytes:
        raise SourceError(
            f"{raw or 'The file'} is {size:,} bytes; the limit is {max_bytes:,} (QABOT_DISCORD_ADD_MAX_BYTES)."
        )
    if (
        not raw
        or "\x00" in raw
        or ".." in raw
        or PurePosixPath(raw).name != raw
        or PureWindowsPath(raw).name != raw
        or raw.startswith(".")
    ):
        raise SourceError("The file name must be a plain name, without folders or '..': rename the file and try again.")
    suffix = PurePosixPath(raw).suffix.lower()
    if suffix not in SUFFIXES:
        raise SourceError(f"{raw} is not a kind of document qabot reads ({kinds}).")
    stem = _UNSAFE.sub("_", raw[: -len(suffix)]).strip(" ._") or "document"
    return stem[:120] + suffix


class Knowledge:
    """The engine that answers each server."""

    def __init__(self, shared: QAEngine, guilds_dir: Path | None) -> None:
        self.shared = shared
        self.guilds_dir = Path(guilds_dir).expanduser().resolve() if guilds_dir else None
        self._engines: dict[int, QAEngine] = {}
        self._lock = threading.Lock()

    def folder(self, guild_id: int) -> Path | None:
        return self.guilds_dir / str(int(guild_id)) if self.guilds_dir else None

    def seeds_dir(self, guild_id: int | None) -> Path | None:
        folder = self.folder(guild_id) if guild_id is not None else None
        return folder / "seeds" if folder is not None else None

    def has_own(self, guild_id: int | None) -> bool:
        seeds = self.seeds_dir(guild_id)
        return seeds is not None and seeds.is_dir()

    def own_engine(self, guild_id: int) -> QAEngine:
        """The server's own engine (created on first use; its index may not be built yet)."""
        with self._lock:
            engine = self._engines.get(guild_id)
            if engine is None:
                folder = self.folder(guild_id)
                if folder is None:
                    raise SourceError("Per-server documents are off: set QABOT_DISCORD_GUILDS_DIR.")
                settings = self.shared.settings.model_copy(
                    # the shared engine's model already holds the query encoder: no export per server
                    update={"seeds_dir": folder / "seeds", "index_dir": folder / "index", "onnx_queries": False}
                )
                engine = QAEngine(settings, embedder=self.shared.embedder)
                self._engines[guild_id] = engine
            return engine

    def engine_for(self, guild_id: int | None) -> tuple[QAEngine, str]:
        """(engine, name): the server's own when it has a built index, else the shared one.

        Blocking (opens or reloads an index): call from a worker thread.
        """
        if guild_id is None or not self.has_own(guild_id):
            return self.shared, SHARED
        engine = self.own_engine(guild_id)
        try:
            engine.reload()
        except IndexUnusable:
            return self.shared, SHARED  # not built yet (or unusable): the shared index answers
        return engine, str(guild_id)

    def engine_to_manage(self, guild_id: int | None) -> tuple[QAEngine, str]:
        """The engine /sources and /reindex act on: the server's own folder if it has one."""
        if guild_id is not None and self.has_own(guild_id):
            return self.own_engine(guild_id), str(guild_id)
        return self.shared, SHARED

    def close(self) -> None:
        """Release the servers' own indexes (they reopen on the next question)."""
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            engine.close()

    def save_upload(self, guild_id: int, name: str, data: bytes) -> Path:
        """Write `data` as `name` (already checked by upload_name) into the server's seeds, atomically."""
        seeds = self.seeds_dir(guild_id)
        if seeds is None:
            raise SourceError("Per-server documents are off: set QABOT_DISCORD_GUILDS_DIR.")
        seeds.mkdir(parents=True, exist_ok=True)
        target = (seeds / name).resolve()
        if target.parent != seeds.resolve():
            raise SourceError("The file name must be a plain name, without folders or '..'.")
        partial = target.with_name(f".{target.name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, target)
        except OSError as err:
            partial.unlink(missing_ok=True)
            raise SourceError(f"Could not save {name} ({err.strerror or err}).") from None
        return target
