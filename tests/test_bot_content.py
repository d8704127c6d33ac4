"""What the bot writes: mentions in questions and documents stay inert, long answers fit Discord.

Uses an engine over a temporary seeds folder holding the seed article and a notice whose
text contains @everyone, a role mention, a user mention and markdown.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from qabot import QAEngine, Settings
from tests.bot_fixtures import (
    SEED_SOURCE,
    World,
    assert_inert,
    assert_pings_nobody,
    assert_within_limits,
    bot_messages,
    bot_settings,
    citations_shown,
    marked_citations,
    run_scenario,
    visible_text,
)
from tests.conftest import SEED_FILE

pytestmark = pytest.mark.slow

NOTICE = (
    "Lantern Festival Notice\n\n"
    "@everyone the lantern festival of Brightwater will be held on the ninth of March at the old mill, "
    "where members of <@&123456789012345678> and <@234567890123456789> must bring **two lanterns** each "
    "and ||nobody|| may bring fireworks to the __river__ bank.\n"
)


@pytest.fixture(scope="module")
def notice_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> QAEngine:
    base = tmp_path_factory.mktemp("notice")
    seeds = base / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    (seeds / "notice.txt").write_text(NOTICE, encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=base / "index", _env_file=None)  # type: ignore[call-arg]
    return QAEngine.from_settings(settings, embedder=embedder)


def test_everyone_in_a_question_and_in_a_passage_stays_plain_text(notice_engine: QAEngine) -> None:
    question = "@everyone when is the lantern festival of Brightwater? <@&123456789012345678>"
    expected = notice_engine.ask(question)
    assert not expected.abstained and "@everyone" in expected.text  # the passage itself holds it

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=question)
        await w.alice.send(w.channel, f"{w.mention} {question}")
        for message in (result.response, w.channel.last_message):
            text = visible_text(message)
            assert_inert(text)
            assert_pings_nobody(message)
            assert_within_limits(message)
            assert "@\u200beveryone" in text and "ninth of March" in text
            assert "<@\u200b&123456789012345678>" in text  # shown as typed, not as a role ping
            assert "\\*\\*two lanterns\\*\\*" in text and "\\|\\|nobody\\|\\|" in text  # markdown shown literally
            assert ("notice.txt", expected.citations[0].start, expected.citations[0].end) in citations_shown(message)
        # the thread name has no mention either
        (thread,) = w.channel.threads
        assert_inert(thread.name or "")

    run_scenario(notice_engine, bot_settings(notice_engine.settings), scenario)


class Padded:
    """The real engine, with every answer's text repeated to at least `length` characters."""

    def __init__(self, engine: QAEngine, length: int) -> None:
        self.engine = engine
        self.length = length

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def ask(self, question: str, k: int | None = None, history: Any = ()) -> Any:
        answer = self.engine.ask(question, k=k, history=history)
        text = answer.text or ""
        while answer.text and len(text) < self.length:
            text += " " + answer.text
        return dataclasses.replace(answer, text=text or None)


def _descriptions(messages: list[Any]) -> str:
    return " ".join(e.description or "" for m in messages for e in m.embeds if e.title != "Sources")


@pytest.mark.parametrize(("length", "messages_needed"), [(3000, 1), (9000, 2)])
def test_long_answers_are_split_within_discords_limits(seed_engine: Any, length: int, messages_needed: int) -> None:
    engine = Padded(seed_engine, length)
    answer = engine.ask("How many missiles were launched?")
    assert len(answer.text) >= length

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question="How many missiles were launched?")
        slash = [result.response, *result.followups]
        await w.alice.send(w.channel, f"{w.mention} How many missiles were launched?")
        mention = [m for m in bot_messages(w.channel, w.bot) if m.embeds][-len(slash) :]
        assert mention[0].reference is not None
        for messages in (slash, mention):
            for m in messages:
                assert_within_limits(m)
                assert_pings_nobody(m)
            assert len(messages) == messages_needed  # 4096 per description, 6000 per message
            # every word of the answer is shown, in order, across the messages
            shown = _descriptions(messages)
            # (the short answer shows in bold: ** around it)
            assert re.sub(r"\s+", " ", shown.replace("**", "")) == re.sub(r"\s+", " ", answer.text)
            assert shown.count("[1]") == answer.text.count("[1]")
            # the numbered sources come once, after the answer
            cited = [c for m in messages for c in citations_shown(m)]
            assert cited == marked_citations(answer)
            assert cited[0][0] == SEED_SOURCE

    run_scenario(engine, bot_settings(seed_engine.settings), scenario)


def test_answer_files_with_markdown_or_long_paths_are_shown_cleanly(tmp_path: Path, embedder: Any) -> None:
    seeds = tmp_path.joinpath("seeds", *["deep_" * 8 + "folder"] * 6)
    seeds.mkdir(parents=True)
    (seeds / "under_score*star.txt").write_text(
        "Orchard Report\n\nThe orchard of Tallow Hill produced 312 baskets of pears this autumn.\n", encoding="utf-8"
    )
    settings = Settings(seeds_dir=tmp_path / "seeds", index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    engine = QAEngine.from_settings(settings, embedder=embedder)
    question = "How many baskets of pears did the orchard of Tallow Hill produce?"
    expected = engine.ask(question)
    assert not expected.abstained

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=question)
        assert_within_limits(result.response)
        assert "312 baskets" in (result.response.embeds[0].description or "").replace("**", "")
        names = [f.name for f in result.response.embeds[0].fields]
        assert names[0].startswith("[1] `…") and "under_score*star.txt` · chars" in names[0]

    run_scenario(engine, bot_settings(settings), scenario)
