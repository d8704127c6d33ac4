"""Text extracted from PDF and Word files, kept by content hash: an unchanged file is not read again.

Extracting a PDF's text takes far longer than reading a .txt file, and a build reads every
file whenever any one of them changed. `index/extracted.sqlite` keeps each extraction keyed by
the sha256 of the file's bytes (and its kind), so the next build takes the text and the page
starts from there. The extraction version (`loader.EXTRACTION_VERSION`) is the database's
`PRAGMA user_version`: when it changes, the cache is started afresh and every file is read
again. The file is created only when a PDF or Word file is read. Each extraction is committed
on its own (WAL), so a killed build keeps what it extracted; after a build is published, the
rows it did not use are deleted. The cache only saves time: a damaged or unwritable one is
started afresh or left alone, never an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

EXTRACTION_CACHE = "extracted.sqlite"
_SQL = "CREATE TABLE IF NOT EXISTS extracted (key TEXT PRIMARY KEY, text TEXT NOT NULL, pages TEXT NOT NULL)"


class ExtractionCache:
    """Extracted text by (kind, sha256) in `index_dir/extracted.sqlite`; one writer (the build lock).

    `fresh=True` (a full rebuild) reads every file again but still stores what it extracted.
    `extractions` counts the files extracted (not found in the cache) since it was opened.
    """

    def __init__(self, index_dir: Path, version: int, fresh: bool = False) -> None:
        self.path = Path(index_dir) / EXTRACTION_CACHE
        self.version = version
        self.fresh = fresh
        self.extractions = 0
        self._used: set[str] = set()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    @staticmethod
    def key(kind: str, sha256: str) -> str:
        return f"{kind}:{sha256}"

    def get(self, kind: str, sha256: str) -> tuple[str, tuple[int, ...]] | None:
        """The cached (text, page starts) of a file with these bytes, or None."""
        key = self.key(kind, sha256)
        self._used.add(key)
        conn = None if self.fresh else self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT text, pages FROM extracted WHERE key = ?", (key,)).fetchone()
            return None if row is None else (row[0], tuple(int(p) for p in json.loads(row[1])))
        except (sqlite3.Error, ValueError, TypeError) as exc:
            log.warning("Extraction cache %s is unreadable (%s); extracting again.", self.path, exc)
            return None

    def put(self, kind: str, sha256: str, text: str, pages: tuple[int, ...]) -> None:
        """Store one extraction (committed at once)."""
        key = self.key(kind, sha256)
        self._used.add(key)
        self.extractions += 1
        conn = self._connect()
        if conn is None:
            return
        try:
            conn.execute("INSERT OR REPLACE INTO extracted VALUES (?, ?, ?)", (key, text, json.dumps(list(pages))))
        except sqlite3.Error as exc:
            log.warning("Extraction cache %s cannot be written (%s).", self.path, exc)

    def prune(self) -> None:
        """Delete the extractions this build did not use (call after it was published)."""
        if self._conn is None:
            return
        try:
            used = sorted(self._used)
            self._conn.execute("BEGIN")
            self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self._conn.execute("DELETE FROM keep")
            self._conn.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in used))
            self._conn.execute("DELETE FROM extracted WHERE key NOT IN (SELECT key FROM keep)")
            self._conn.execute("COMMIT")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.warning("Extraction cache %s cannot be pruned (%s).", self.path, exc)

    def __len__(self) -> int:
        conn = self._connect()
        if conn is None:
            return 0
        (n,) = conn.execute("SELECT count(*) FROM extracted").fetchone()
        return int(n)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ExtractionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:  # damaged: it only saves time, start afresh
            log.warning("Extraction cache %s is unreadable (%s); starting a new one.", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{self.path}{suffix}").unlink()
            try:
                self._conn = self._open()
            except sqlite3.Error:
                self._broken = True
        except OSError:  # a read-only or missing index folder: work without the cache
            self._broken = True
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version != self.version:  # another way of extracting: nothing in it is valid
                conn.execute("BEGIN")
                conn.execute("DROP TABLE IF EXISTS extracted")
                conn.execute(_SQL)
                conn.execute(f"PRAGMA user_version = {int(self.version)}")
                conn.execute("COMMIT")
            else:
                conn.execute(_SQL)
        except BaseException:
            conn.close()
            raise
        return conn
