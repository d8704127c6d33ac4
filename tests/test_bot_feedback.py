"""Feedback through simcord on the real engine: 👍 / 👎 kept in the question log, exported by
`qabot feedback export` and read back by `qabot eval`; More sources; the helper role ping."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from qabot.bot.client import ANSWER_GONE, THANKS
from qabot.cli.app import main
from tests.bot_fixtures import World, assert_pings_nobody, bot_settings, citations_shown, run_scenario

pytestmark = pytest.mark.slow

MISSILES = "How many missiles were launched?"
MINISTER = "Who is Iran's foreign minister?"
FRANCE = "What is the capital of France?"


def _buttons(message: Any) -> list[tuple[str, str]]:
    """(label or emoji, custom id) of a message's buttons (simcord responses hold raw dicts)."""
    out = []
    for row in message.components:
        for c in row["components"] if isinstance(row, dict) else row.children:
            if isinstance(c, dict):
                out.append((c.get("label") or (c.get("emoji") or {}).get("name", ""), c["custom_id"]))
            else:
                out.append((c.label or (c.emoji.name if c.emoji else ""), c.custom_id))
    return out


def _labels(message: Any) -> list[str]:
    return [label for label, _ in _buttons(message)]


def _id(message: Any, label: str) -> str:
    return next(custom_id for shown, custom_id in _buttons(message) if shown == label)


def _rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM questions ORDER BY id")]


def test_feedback_is_logged_and_exported_as_an_eval_dataset(
    seed_engine, seed_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = tmp_path / "questions.sqlite3"
    settings = bot_settings(discord_log=log_path)

    async def scenario(w: World) -> None:
        good = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert _labels(good.response)[:3] == ["Follow up", "👍", "👎"]
        up = await w.alice.click(good.response, label="👍")
        assert up.ephemeral and up.response.content == THANKS

        abstained = await w.alice.slash(w.channel, "ask", question=FRANCE)
        await w.mod.click(abstained.response, custom_id=_id(abstained.response, "👍"))  # rightly abstained

        await w.alice.send(w.channel, f"{w.mention} {MINISTER}")
        mention_answer = w.channel.last_message
        down = await w.alice.click(mention_answer, custom_id=_id(mention_answer, "👎"))
        assert down.ephemeral and down.response.content.startswith(THANKS)

        await w.alice.slash(w.channel, "ask", question="Who launched the missiles?")  # not rated

    run_scenario(seed_engine, settings, scenario)

    rows = _rows(log_path)
    assert [r["question"] for r in rows] == [MISSILES, FRANCE, MINISTER, "Who launched the missiles?"]
    assert [r["feedback"] for r in rows] == [1, 1, -1, None]
    assert [r["via"] for r in rows] == ["slash", "slash", "mention", "slash"]
    assert rows[1]["abstained"] == 1 and rows[0]["abstained"] == 0
    assert all(r["guild_id"] and r["channel_id"] and r["latency_ms"] > 0 for r in rows)
    assert json.loads(rows[0]["citations"])[0]["source"] == "000_1e0f96428eb82f3b.txt"
    assert all(r["author_id"] is None and r["author_name"] is None for r in rows)  # no names by default
    assert "alice" not in log_path.read_bytes().decode("utf-8", "replace")

    dataset = tmp_path / "rated.jsonl"
    assert main(["feedback", "export", "--log", str(log_path), "--out", str(dataset)]) == 0
    assert "Exported 2 rated question(s)" in capsys.readouterr().err
    lines = dataset.read_text(encoding="utf-8").splitlines()
    data = [json.loads(line) for line in lines if not line.startswith("#")]
    assert [d["question"] for d in data] == [MISSILES, FRANCE]
    assert data[1] == {"question": FRANCE, "answers": [], "evidence": None}
    assert data[0]["evidence"] == "000_1e0f96428eb82f3b.txt" and "[1]" not in data[0]["answers"][0]
    assert any(line.startswith("# 👎") and MINISTER in line for line in lines)

    # read back by `qabot eval` on the same index: the rated answers still hold
    code = main(
        [
            "eval",
            str(dataset),
            "--seeds",
            str(seed_settings.seeds_dir),
            "--index",
            str(seed_settings.index_dir),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["questions"] == 2 and report["counts"]["answerable"] == 1
    assert report["metrics"]["answer_accuracy"] == 1.0 and report["metrics"]["recall@k"] == 1.0
    assert report["metrics"]["abstention_recall"] == 1.0


def test_authors_are_logged_only_when_allowed(seed_engine, tmp_path: Path) -> None:
    log_path = tmp_path / "questions.sqlite3"

    async def scenario(w: World) -> None:
        await w.alice.slash(w.channel, "ask", question=MISSILES)

    run_scenario(seed_engine, bot_settings(discord_log=log_path, discord_log_authors=True), scenario)
    (row,) = _rows(log_path)
    assert row["author_id"] and row["author_name"] == "alice"


def test_more_sources_and_the_helper_role(seed_engine, tmp_path: Path) -> None:
    expected = seed_engine.ask(MISSILES)
    settings = bot_settings(discord_helper_role="Helpers", discord_log=None)

    async def scenario(w: World) -> None:
        helpers = w.guild.create_role("Helpers")
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        answer = result.response
        labels = _labels(answer)
        shown = citations_shown(answer)
        rest = len(expected.citations) - len(shown)
        assert rest > 0 and "More sources" in labels and "Still need help?" in labels

        more = await w.alice.click(answer, label="More sources")
        assert more.ephemeral
        extra = citations_shown(more.response)
        assert len(extra) == rest and not set(extra) & set(shown)
        assert sorted(shown + extra) == sorted((c.source, c.start, c.end) for c in expected.citations)

        helped = await w.alice.click(answer, label="Still need help?")
        ping = helped.response
        assert ping is not None and not ping.ephemeral
        message = ping.message
        assert [r.id for r in message.role_mentions] == [helpers.id]  # the one mention the bot makes
        assert message.mentions == [] and not message.mention_everyone
        assert MISSILES in message.content and "alice" in message.content
        again = await w.alice.click(answer, label="Still need help?")
        assert again.ephemeral and "already" in again.response.content
        for m in w.channel.history():
            if m.author.id == w.bot.user.id and m.id != message.id:
                assert_pings_nobody(m)

    run_scenario(seed_engine, settings, scenario)


def test_buttons_of_an_answer_the_bot_no_longer_remembers(seed_engine) -> None:
    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        w.cog.shown.clear()  # as after a restart with the question log off
        follow = await w.alice.click(result.response, label="Follow up")
        assert follow.ephemeral and follow.response.content == ANSWER_GONE

    run_scenario(seed_engine, bot_settings(discord_log=None), scenario)
