"""The bot's written answers (QABOT_DISCORD_GENERATE): the model writes from the passages, qabot
checks each sentence; a failing model leaves the quoted answer. Real model and index, simcord,
and the small OpenAI-compatible server of tests/llm_server.py."""

from __future__ import annotations

from collections.abc import Iterator

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
