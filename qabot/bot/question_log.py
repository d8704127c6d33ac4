"""The bot's question log (SQLite) and its export as a `qabot eval` dataset.

    log = QuestionLog(Path("discord-questions.sqlite3"))
    row = log.record(guild_id=1, channel_id=2, question="How many?", answer=answer, latency_ms=41.0)
    log.rate(row, +1)                                   # the 👍 button
    export_dataset(Path("discord-questions.sqlite3"), out)  # `qabot feedback export`

One row per question: time, server, channel, question, earlier questions, answer, whether
it abstained, citations (JSON), latency, which knowledge base answered, feedback (+1 / -1),
whether someone asked for a human. Who asked is stored only with QABOT_DISCORD_LOG_AUTHORS.
Nothing here imports discord.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, QuestionLogMissing
from ..records import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    via TEXT NOT NULL,
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    answer TEXT,
    abstained INTEGER NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    latency_ms REAL,
    knowledge TEXT,
    feedback INTEGER,
    feedback_at TEXT,
    help_requested INTEGER NOT NULL DEFAULT 0,
    author_id INTEGER,
    author_name TEXT
);
CREATE INDEX IF NOT EXISTS questions_feedback ON questions(feedback);
"""

_MARKER = re.compile(r"\s*\[\d+\]")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class QuestionLog:
    """Append-only log of the bot's questions with their feedback. Safe to share between threads."""

    def __init__(self, path: Path, log_authors: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.log_authors = log_authors
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(
                f"Cannot open the question log {self.path} ({err}): set QABOT_DISCORD_LOG to a writable file, "
                "or empty to turn the log off."
            ) from None

    def record(
        self,
        *,
        question: str,
        answer: Answer,
        latency_ms: float,
        guild_id: int | None,
        channel_id: int | None,
        via: str,
        history: Sequence[str] = (),
        knowledge: str = "shared",
        author_id: int | None = None,
        author_name: str | None = None,
    ) -> int:
        """Store one answered question; returns its row id (used by the feedback buttons)."""
        row = (
            _now(),
            guild_id,
            channel_id,
            via,
            question,
            json.dumps(list(history), ensure_ascii=False),
            answer.text,
            int(answer.abstained),
            json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
            round(float(latency_ms), 1),
            knowledge,
            author_id if self.log_authors else None,
            author_name if self.log_authors else None,
        )
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO questions (asked_at, guild_id, channel_id, via, question, history, answer, abstained, "
                "citations, latency_ms, knowledge, author_id, author_name) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def rate(self, row_id: int, value: int) -> bool:
        """+1 or -1 for question `row_id` (the latest rating wins). False when there is no such row."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE questions SET feedback = ?, feedback_at = ? WHERE id = ?",
                (1 if value > 0 else -1, _now(), row_id),
            )
            return cursor.rowcount > 0

    def help_requested(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE questions SET help_requested = 1 WHERE id = ?", (row_id,))

    def get(self, row_id: int) -> dict[str, Any] | None:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM questions WHERE id = ?", (row_id,))
            found = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return dict(zip(names, found, strict=True)) if found else None

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM questions ORDER BY id")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def dataset_line(row: dict[str, Any]) -> str:
    """One `qabot eval` line for a rated row, or a '#' comment saying what it needs.

    👍 on an answer: the answer (without [n] markers) is the gold string and its first
    source the evidence. 👍 on "The documents don't say.": an unanswerable question. 👎 and
    follow-ups (which need their conversation) become comments for a person to complete.
    """
    citations = json.loads(row["citations"] or "[]")
    item: dict[str, Any] = {"question": row["question"], "answers": [], "evidence": None}
    if row["feedback"] > 0 and not row["abstained"] and row["answer"]:
        gold = " ".join(_MARKER.sub(" ", row["answer"]).split())
        item = {
            "question": row["question"],
            "answers": [gold],
            "evidence": citations[0]["source"] if citations else None,
        }
    line = json.dumps(item, ensure_ascii=False)
    history = json.loads(row["history"] or "[]")
    if history:
        return f"# follow-up to {json.dumps(history, ensure_ascii=False)}: {line}"
    if row["feedback"] < 0:
        shown = "The documents don't say." if row["abstained"] else (row["answer"] or "")
        return (
            f"# 👎 on {json.dumps(shown, ensure_ascii=False)[:300]}: write the right answers and evidence, "
            f"then remove this comment: {line}"
        )
    return line


def export_dataset(log_path: Path, out: IO[str]) -> tuple[int, int]:
    """Write the rated questions of the log at `log_path` as a `qabot eval` dataset.

    Returns (dataset lines, commented lines). Raises QuestionLogMissing when there is no log.
    """
    path = Path(log_path).expanduser()
    if not path.is_file():
        raise QuestionLogMissing(
            f"No question log at {path}: the bot writes it while it runs (QABOT_DISCORD_LOG); give --log PATH."
        )
    log = QuestionLog(path)
    try:
        rated = [r for r in log.rows() if r["feedback"] is not None]
    finally:
        log.close()
    lines = [dataset_line(r) for r in rated]
    out.write(f"# qabot feedback export of {path.name}, {_now()}: {len(rated)} rated questions\n")
    for line in lines:
        out.write(line + "\n")
    commented = sum(1 for line in lines if line.startswith("#"))
    return len(lines) - commented, commented
