"""The on-disk index: generation folders, the CURRENT pointer, validation, pruning.

    index/
      CURRENT                 name of the generation in use (replaced with os.replace)
      .lock                   held (flock) while a build writes
      embeddings.sqlite       the embedding cache (WAL, committed per block: survives a killed build)
      gen-000007/             one complete build
        meta.sqlite           sources, documents, chunks, sentences, PDF page starts
        vectors.faiss         chunk vectors (row i = chunk id i)
        sentences.npy         sentence vectors, float16 (row i = sentence id i)
        bm25/                 BM25 arrays (bm25s's file layout) + JSON
        manifest.json         written last: its presence marks the generation complete

A generation is written under a temporary name, fsynced, renamed, and only then does
CURRENT move. A crash or Ctrl-C at any moment leaves the previous generation in use.
No pickle: FAISS's own format, numpy arrays without objects, SQLite and JSON. The manifest
stays small (schema, model, settings, counts); the per-source records live in SQLite.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BuildLocked, ConfigError, IndexCorrupt, IndexMismatch, IndexMissing, QabotError, SourceError
from .loader import SourceFile, list_sources
from .records import IndexInfo

SCHEMA_VERSION = 3
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
META = "meta.sqlite"
VECTORS = "vectors.faiss"
SENTENCE_VECTORS = "sentences.npy"
BM25_DIR = "bm25"
EMBEDDING_CACHE = "embeddings.sqlite"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"

SCHEMA_SQL = """
CREATE TABLE sources (  -- every file of the seeds folder the build saw, indexed or skipped
    source TEXT PRIMARY KEY, sha256 TEXT, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    skipped TEXT  -- NULL for an indexed document, else why it was skipped
) WITHOUT ROWID;
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, text TEXT NOT NULL,
    sent_lo INTEGER NOT NULL, sent_hi INTEGER NOT NULL,  -- its sentences' ids, [lo, hi)
    chunk_lo INTEGER NOT NULL, chunk_hi INTEGER NOT NULL  -- its chunks' ids, [lo, hi)
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, sent_lo INTEGER NOT NULL, sent_hi INTEGER NOT NULL,
    titled INTEGER NOT NULL  -- 1 when the model read the chunk after its document's title line
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
CREATE TABLE pages (  -- PDF documents only: page n begins at offset start of the document's text
    doc_id INTEGER NOT NULL REFERENCES documents(id), page INTEGER NOT NULL, start INTEGER NOT NULL,
    PRIMARY KEY (doc_id, page)
) WITHOUT ROWID;
"""

REBUILD_HINT = "run `qabot index build --full`"


@dataclass(frozen=True, slots=True)
class Generation:
    """A complete generation folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def generation_number(name: str) -> int:
    try:
        return int(name.removeprefix(GEN_PREFIX))
    except ValueError:
        return -1


def list_generations(index_dir: Path) -> list[Path]:
    """Complete generation folders (with a manifest), oldest first."""
    if not index_dir.is_dir():
        return []
    gens = [
        p
        for p in index_dir.iterdir()
        if p.is_dir() and p.name.startswith(GEN_PREFIX) and generation_number(p.name) >= 0 and (p / MANIFEST).is_file()
    ]
    return sorted(gens, key=lambda p: generation_number(p.name))


def current_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT names, or None when nothing has been built."""
    blocker = next((p for p in (index_dir, *index_dir.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "is a file" if blocker == index_dir else f"is inside {blocker}, which is a file"
        raise ConfigError(
            f"Index path {index_dir} {what}, not a folder: point --index (QABOT_INDEX_DIR) at a folder, "
            "or move the file away."
        )
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"Cannot read {pointer}: {exc.strerror}; {REBUILD_HINT}.") from exc
    if not name.startswith(GEN_PREFIX) or "/" in name or name in {".", ".."}:
        raise IndexCorrupt(f"{pointer} does not name a generation; {REBUILD_HINT}.")
    return index_dir / name


def served_chunks(index_dir: Path) -> int | None:
    """The chunk count the manifest of the generation in use records; None when there is none or it
    cannot be read (a hint for tuning only: open_generation says what is wrong)."""
    try:
        path = current_generation(index_dir)
        if path is None:
            return None
        return int(json.loads((path / MANIFEST).read_text(encoding="utf-8"))["counts"]["chunks"])
    except (QabotError, OSError, ValueError, KeyError, TypeError):
        return None


def open_generation(index_dir: Path, model: str | None = None) -> Generation:
    """Validate and return the generation in use, or raise a one-line IndexUnusable.

    With `model`, also check that the index was built with that embedding model.
    """
    path = current_generation(index_dir)
    if path is None:
        raise IndexMissing(f"No index in {index_dir}: run `qabot index build`.")
    if not path.is_dir():
        raise IndexCorrupt(
            f"{index_dir / CURRENT} names generation {path.name}, which is not in {index_dir} (deleted?); "
            "run `qabot index build`."
        )
    manifest_file = path / MANIFEST
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"Index generation {path.name} is incomplete (no manifest); {REBUILD_HINT}.") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"Index manifest {manifest_file} is unreadable; {REBUILD_HINT}.") from exc
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"Index manifest {manifest_file} is not an object; {REBUILD_HINT}.")
    schema = manifest.get("schema")
    if schema != SCHEMA_VERSION:
        raise IndexMismatch(
            f"Index in {index_dir} has schema {schema}, this qabot reads schema {SCHEMA_VERSION}: "
            f"rebuild it with `qabot index build --full`."
        )
    built_with = manifest.get("embedder", {}).get("model")
    if model is not None and built_with != model:
        raise IndexMismatch(
            f"Index in {index_dir} was built with model {built_with!r} but the settings ask for {model!r}; "
            f"{REBUILD_HINT} (or set QABOT_MODEL={built_with!r})."
        )
    for name in (META, VECTORS, SENTENCE_VECTORS, BM25_DIR):
        if not (path / name).exists():
            raise IndexCorrupt(f"Index generation {path.name} is missing {name}; {REBUILD_HINT}.")
    return Generation(path, manifest)


def stale_sources(seeds_dir: Path, generation: Generation) -> list[str]:
    """Sources added, changed (size or mtime) or removed since the build, by stat alone."""
    found = _staleness(seeds_dir, generation, name_gone=True)
    if found is None:
        return indexed_sources(generation)
    changed, _, gone = found
    return sorted(changed + gone)


def stale_count(seeds_dir: Path, generation: Generation) -> int:
    """len(stale_sources(...)), with the sources that are gone counted instead of read and named:
    what a one-shot `qabot ask` says (how many), at a cost that does not grow with the index."""
    found = _staleness(seeds_dir, generation, name_gone=False)
    if found is None:
        return int(generation.manifest.get("counts", {}).get("documents", 0))
    changed, gone_count, _ = found
    return len(changed) + gone_count


def _staleness(seeds_dir: Path, generation: Generation, name_gone: bool) -> tuple[list[str], int, list[str]] | None:
    """(files added or changed, how many recorded sources are gone, their names if `name_gone`),
    or None when the seeds folder cannot be listed (every indexed document is then stale)."""
    try:
        files = list_sources(seeds_dir)
    except SourceError:
        return None
    gone: list[str] = []
    try:
        conn = connect(generation.path / META)
        try:
            known = _source_rows(conn, [f.source for f in files])
            changed = [f.source for f in files if f.source not in known or content_changed(f, known[f.source])]
            counts = generation.manifest.get("counts", {})
            recorded = int(counts.get("documents", 0)) + int(counts.get("skipped", 0))  # rows of `sources`
            if recorded > len(known) and name_gone:  # some sources of the build are gone: name them
                present = {f.source for f in files}
                gone = [s for (s,) in conn.execute("SELECT source FROM sources") if s not in present]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise IndexCorrupt(f"Index generation {generation.name} is damaged ({exc}); {REBUILD_HINT}.") from exc
    return changed, max(0, recorded - len(known)), gone


def indexed_sources(generation: Generation) -> list[str]:
    """The documents of a generation, in source order."""
    try:
        conn = connect(generation.path / META)
        try:
            return [s for (s,) in conn.execute("SELECT source FROM documents ORDER BY id")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise IndexCorrupt(f"Index generation {generation.name} is damaged ({exc}); {REBUILD_HINT}.") from exc


def _source_rows(conn: sqlite3.Connection, sources: list[str]) -> dict[str, dict[str, Any]]:
    """The `sources` rows of these sources (those recorded), looked up in batches."""
    rows: dict[str, dict[str, Any]] = {}
    for lo in range(0, len(sources), 500):
        batch = sources[lo : lo + 500]
        marks = ",".join("?" * len(batch))
        for source, sha256, size, mtime_ns, skipped in conn.execute(
            f"SELECT source, sha256, size, mtime_ns, skipped FROM sources WHERE source IN ({marks})", batch
        ):
            rows[source] = {"sha256": sha256, "size": size, "mtime_ns": mtime_ns, "skipped": skipped}
    return rows


def content_changed(file: SourceFile, recorded: dict[str, Any]) -> bool:
    """Changed since the build: by size and mtime, and when only mtime moved, by content hash."""
    if recorded.get("size") == file.size and recorded.get("mtime_ns") == file.mtime_ns:
        return False
    if recorded.get("size") != file.size or not recorded.get("sha256"):
        return True
    try:
        return hashlib.sha256(file.path.read_bytes()).hexdigest() != recorded["sha256"]
    except OSError:
        return True


def source_rows(generation: Generation, sources: list[str]) -> dict[str, dict[str, Any]]:
    """sha256, size, mtime_ns and skip reason (None when indexed) of the sources this generation saw."""
    conn = connect(generation.path / META)
    try:
        return _source_rows(conn, sources)
    finally:
        conn.close()


def describe(
    index_dir: Path | str, generation: Generation, stale: list[str], sources: list[str] | None = None
) -> IndexInfo:
    """What `index status`, the REPL and `/sources` show about a generation: `index_dir` is the
    place shown, `sources` the generation's indexed sources (read from its SQLite when None)."""
    manifest = generation.manifest
    counts = manifest.get("counts", {})
    embedder = manifest.get("embedder", {})
    return IndexInfo(
        index_dir=str(index_dir),
        generation=generation.name,
        built_at=manifest.get("built_at", "?"),
        model=embedder.get("model", "?"),
        dim=int(embedder.get("dim", 0)),
        documents=int(counts.get("documents", 0)),
        chunks=int(counts.get("chunks", 0)),
        sentences=int(counts.get("sentences", 0)),
        sources=tuple(indexed_sources(generation) if sources is None else sources),
        stale=tuple(stale),
    )


def connect(path: Path, readonly: bool = True) -> sqlite3.Connection:
    """A SQLite connection; read-only ones are safe to share between threads."""
    if readonly:
        uri = f"file:{path}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")  # the file is fsynced before the generation is published
    return conn


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock, or fail at once if another build has it."""
    current_generation(index_dir)  # an index path that is a file: a clear message, not mkdir's
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLocked(f"Another build is writing {index_dir}: wait for it to finish.") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def lock_if_idle(index_dir: Path) -> Iterator[bool]:
    """Hold the build lock for the block if no build holds it (True), else yield False at once.

    Never creates anything: an index folder that is read-only or absent yields False."""
    try:
        handle = open(index_dir / ".lock", "r+")  # noqa: SIM115 - closed below
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def leftovers(index_dir: Path) -> list[Path]:
    """What killed builds left behind: temporary folders and pointers, and generations that were
    never switched to (no manifest, or newer than the one CURRENT names)."""
    if not index_dir.is_dir():
        return []
    try:
        in_use = current_generation(index_dir)
    except QabotError:
        return []  # an unreadable CURRENT: leave every folder alone
    number = generation_number(in_use.name) if in_use is not None else -1
    found = []
    for path in sorted(index_dir.iterdir()):
        if path.name.startswith(TMP_PREFIX) or (
            path.name.startswith(GEN_PREFIX)
            and path.is_dir()
            and (in_use is None or path.name != in_use.name)
            and (not (path / MANIFEST).exists() or generation_number(path.name) > number)
        ):
            found.append(path)
    return found


def clean_leftovers(index_dir: Path) -> list[str]:
    """Remove `leftovers`; the caller holds the build lock (so no live build is writing them)."""
    removed = []
    for path in leftovers(index_dir):
        _remove(path)
        removed.append(path.name)
    return removed


def clean_leftovers_if_idle(index_dir: Path) -> list[str] | None:
    """`clean_leftovers` when no build is running (the names removed), else None (nothing touched)."""
    with lock_if_idle(index_dir) as idle:
        return clean_leftovers(index_dir) if idle else None


def names_current(index_dir: Path, name: str) -> bool:
    """True when CURRENT names generation `name`."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() == name
    except OSError:
        return False


def free_bytes(path: Path) -> int:
    """Bytes free for this user on the file system holding `path` (or its nearest existing parent)."""
    for folder in (path, *path.parents):
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize
    return 0


def tree_bytes(path: Path) -> int:
    """Bytes in the files under `path` (0 when it is gone)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


_FULL_WORDS = ("no space left", "disk is full", "database or disk is full", "requested and", "enospc", "quota")


def out_of_space(exc: BaseException, free_after: int) -> bool:
    """Whether `exc` (or what caused it) means the disk filled up.

    Libraries say it in their own words (SQLite "database or disk is full", FAISS's write
    check, numpy's "N requested and M written"); with less than 1 MB left on the disk when it
    failed, any write error is taken to be that too."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(seen).lower() for word in _FULL_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return free_after < 1_000_000 and isinstance(exc, (OSError, RuntimeError, sqlite3.Error, ValueError))


def new_generation_dir(index_dir: Path) -> tuple[Path, str]:
    """A fresh temporary folder and the generation name it will be published as."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [generation_number(p.name) for p in index_dir.iterdir() if p.name.startswith(GEN_PREFIX)]
    name = f"{GEN_PREFIX}{max(numbers, default=0) + 1:06d}"
    tmp = index_dir / f"{TMP_PREFIX}{name}-{os.getpid()}"
    tmp.mkdir()
    return tmp, name


def publish(index_dir: Path, tmp: Path, name: str, manifest: dict[str, Any], keep: int) -> Path:
    """Write the manifest, make everything durable, rename, and switch CURRENT."""
    _write_durably(tmp / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    for file in tmp.rglob("*"):
        if file.is_file():
            _fsync_file(file)
    _fsync_dir(tmp)
    final = index_dir / name
    os.replace(tmp, final)
    _fsync_dir(index_dir)
    pointer_tmp = index_dir / f"{TMP_PREFIX}{CURRENT}-{os.getpid()}"
    try:
        _write_durably(pointer_tmp, name + "\n")
        os.replace(pointer_tmp, index_dir / CURRENT)
    except BaseException:
        _remove(pointer_tmp)
        raise
    _fsync_dir(index_dir)
    prune(index_dir, keep)
    return final


def prune(index_dir: Path, keep: int) -> None:
    """Drop leftovers of interrupted builds and all but the newest `keep` generations.

    The generation CURRENT names is never removed.
    """
    in_use = current_generation(index_dir)
    for leftover in index_dir.glob(f"{TMP_PREFIX}*"):
        if not _owned_by_live_process(leftover.name):
            _remove(leftover)
    gens = list_generations(index_dir)
    for old in gens[: max(0, len(gens) - keep)]:
        if in_use is None or old.name != in_use.name:
            _remove(old)
    for partial in index_dir.glob(f"{GEN_PREFIX}*"):
        if partial.is_dir() and not (partial / MANIFEST).exists() and (in_use is None or partial.name != in_use.name):
            _remove(partial)


def discard(tmp: Path) -> None:
    """Remove a generation that was being written (after an error or Ctrl-C)."""
    _remove(tmp)


def _owned_by_live_process(name: str) -> bool:
    pid_text = name.rsplit("-", 1)[-1]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
