"""The bot's written answers (QABOT_DISCORD_GENERATE): the model writes from the passages, qabot
checks each sentence; a failing model leaves the quoted answer. Real model and index, simcord,
and the small OpenAI-compatible server of tests/llm_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qabot import QAEngine
from tests.bot_fixtures import World, bot_settings, run_scenario
from tests.llm_server import FakeLLM

pytestmark = pytest.mark.slow
QUESTION = "How many missiles failed?"


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def test_bot_sends_the_checked_written_answer(seed_settings, embedder, seed_engine, server: FakeLLM) -> None:  # type: ignore[no-untyped-def]
    settings = seed_settings.model_copy(update={"llm_url": server.url, "llm_model": "local"})
    engine = QAEngine(settings, embedder=embedder)
    engine.reload(force=True)
    quoted = engine.ask(QUESTION)
    assert not quoted.abstained
    server.reply = "Four of the missiles failed mid-flight [1]. The attack was ordered by aliens [1]."
    seen: list[str] = []

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=QUESTION)
        seen.append((result.response.embeds[0].description or "").replace("**", ""))

    run_scenario(engine, bot_settings(discord_generate=True), scenario)
    server.status = 500  # the model fails: the quoted answer, as without a model
    run_scenario(engine, bot_settings(discord_generate=True), scenario)
    run_scenario(engine, bot_settings(), scenario)  # off by default: the model is not asked
    assert seen[0] == "Four of the missiles failed mid-flight. [1]"  # the unsupported sentence dropped
    assert seen[1] == quoted.text and seen[2] == quoted.text
    assert len(server.requests) == 2


STREAMED = ["Four of the missiles ", "failed mid-flight [1]. ", "The attack was ordered ", "by aliens [1]."]


def test_bot_edits_its_message_as_the_written_answer_streams(  # type: ignore[no-untyped-def]
    seed_settings, embedder, seed_engine, server: FakeLLM
) -> None:
    settings = seed_settings.model_copy(update={"llm_url": server.url, "llm_model": "local"})
    engine = QAEngine(settings, embedder=embedder)
    engine.reload(force=True)
    quoted = engine.ask(QUESTION)
    server.chunks = STREAMED
    runs: list[tuple[list[Any], str]] = []

    async def scenario(w: World) -> None:
        w.cog.edit_seconds = 0.0  # every piece may edit (the 1 s pacing itself: test_bot_limits.py)
        before = len(w.env.http_requests)
        await w.alice.slash(w.channel, "ask", question=QUESTION)
        edits = [
            r.json or {}
            for r in w.env.http_requests[before:]
            if r.method == "PATCH" and r.path.endswith("/messages/@original")
        ]
        last = [m async for m in w.bot.get_channel(w.channel.id).history(limit=5)]
        answer = next(m for m in last if m.embeds)
        assert not answer.content  # the streamed text is replaced by the answer
        runs.append((edits, (answer.embeds[0].description or "").replace("**", "")))
        before = len(w.env.http_requests)  # a mention: the bot's reply is edited the same way
        question = await w.alice.send(w.channel, f"{w.mention} {QUESTION}")
        edits = [  # the reply sent with the first piece, then its edits
            r.json or {}
            for r in w.env.http_requests[before:]
            if (r.method, r.path.endswith("/messages")) in (("POST", True), ("PATCH", False)) and "/messages" in r.path
        ]
        reply = next(m for m in [m async for m in w.bot.get_channel(w.channel.id).history(limit=5)] if m.embeds)
        assert reply.reference is not None and reply.reference.message_id == question.id and not reply.content
        runs.append((edits, (reply.embeds[0].description or "").replace("**", "")))

    run_scenario(engine, bot_settings(discord_generate=True), scenario)
    server.bad_event = True  # the stream breaks after its first piece: the quoted answer
    run_scenario(engine, bot_settings(discord_generate=True), scenario)

    assert [len(run[0]) > 0 for run in runs] == [True] * 4
    for edits, final in runs[0], runs[1]:
        streaming = [e.get("content") for e in edits]
        assert streaming[0] == "Four of the missiles …"
        assert final == "Four of the missiles failed mid-flight. [1]"
    edits, final = runs[0]
    streaming = [e.get("content") for e in edits[:-1]]
    assert len(streaming) >= 2, edits  # the message grew while the model wrote
    assert streaming[0] == "Four of the missiles …"
    assert streaming[-1].startswith("Four of the missiles failed mid-flight [1]. The attack")
    assert edits[-1].get("content") in (None, "") and edits[-1].get("embeds")  # finished as the answer
    assert final == "Four of the missiles failed mid-flight. [1]"  # checked: the unsupported sentence dropped
    for broken_edits, broken_final in runs[2], runs[3]:
        assert broken_edits[0].get("content") == "Four of the missiles …"
        assert broken_final == quoted.text
