"""The question log and `qabot feedback export` without Discord (fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qabot.bot.question_log import QuestionLog
from qabot.cli.app import main
from qabot.evaluate import load_dataset
from qabot.records import Answer, Citation

CITE = Citation("docs/a.txt", 10, 40, "Fifteen missiles were launched.", 0.9)


def _log(path: Path) -> QuestionLog:
    log = QuestionLog(path)
    answered = Answer("How many?", "Fifteen missiles were launched. [1]", (CITE,))
    first = log.record(
        question="How many?",
        answer=answered,
        latency_ms=12.34,
        guild_id=1,
        channel_id=2,
        via="slash",
        author_id=7,
        author_name="alice",
    )
    second = log.record(
        question="Capital of France?",
        answer=Answer("Capital of France?", None),
        latency_ms=5,
        guild_id=1,
        channel_id=2,
        via="mention",
    )
    third = log.record(
        question="and then?",
        answer=answered,
        latency_ms=5,
        guild_id=1,
        channel_id=2,
        via="follow-up",
        history=["How many?"],
    )
    fourth = log.record(question="Who fired?", answer=answered, latency_ms=5, guild_id=None, channel_id=3, via="dm")
    log.record(question="Unrated", answer=answered, latency_ms=5, guild_id=1, channel_id=2, via="slash")
    assert log.rate(first, +1) and log.rate(second, +1) and log.rate(third, +1)
    assert log.rate(fourth, +1) and log.rate(fourth, -1)  # the latest click wins
    assert not log.rate(999, +1)
    log.help_requested(fourth)
    return log


def test_rows_hold_what_was_asked_and_never_the_author_by_default(tmp_path: Path) -> None:
    log = _log(tmp_path / "q.sqlite3")
    rows = log.rows()
    assert [r["feedback"] for r in rows] == [1, 1, 1, -1, None]
    assert rows[0]["author_id"] is None and rows[0]["author_name"] is None
    assert rows[0]["latency_ms"] == 12.3 and json.loads(rows[0]["citations"])[0]["source"] == "docs/a.txt"
    assert rows[3]["help_requested"] == 1 and rows[3]["guild_id"] is None
    log.close()
    with_names = QuestionLog(tmp_path / "named.sqlite3", log_authors=True)
    row_id = with_names.record(
        question="q",
        answer=Answer("q", None),
        latency_ms=1,
        guild_id=1,
        channel_id=2,
        via="slash",
        author_id=7,
        author_name="alice",
    )
    assert (with_names.get(row_id) or {})["author_name"] == "alice"


def test_export_writes_a_dataset_qabot_eval_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _log(tmp_path / "q.sqlite3").close()
    out = tmp_path / "rated.jsonl"
    assert main(["feedback", "export", "--log", str(tmp_path / "q.sqlite3"), "--out", str(out)]) == 0
    assert "Exported 2 rated question(s)" in capsys.readouterr().err
    items = load_dataset(out)
    assert [(i.question, i.answers, i.evidence) for i in items] == [
        ("How many?", ("Fifteen missiles were launched.",), "docs/a.txt"),
        ("Capital of France?", (), None),
    ]
    text = out.read_text(encoding="utf-8")
    assert '# follow-up to ["How many?"]' in text and "# 👎 on" in text and "Unrated" not in text
    assert not list(tmp_path.glob("*.part"))


def test_export_without_a_log_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "export", "--log", str(tmp_path / "none.sqlite3")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No question log" in err[0] and "--log" in err[0]
    assert not (tmp_path / "none.sqlite3").exists()
