"""/reindex rebuilds and hot-swaps the engine; a rebuild from the CLI is picked up too."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import simcord

from qabot import QAEngine, Settings
from qabot.bot.client import NOT_ALLOWED
from tests.bot_fixtures import World, bot_settings, citations_shown, run_scenario
from tests.conftest import SEED_FILE

pytestmark = pytest.mark.slow

HARBOUR = "How many mooring posts does the harbour of Qelvin have?"
LIGHTHOUSE = "What colour is the lighthouse of Varrow Point painted?"


@pytest.fixture
def fresh(tmp_path: Path, embedder: Any) -> tuple[QAEngine, Settings]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    return QAEngine.from_settings(settings, embedder=embedder), settings


def _sources(message: Any) -> set[str]:
    return {source for source, _, _ in citations_shown(message)}


def test_reindex_rebuilds_and_swaps_without_a_restart(fresh: tuple[QAEngine, Settings], embedder: Any) -> None:
    engine, settings = fresh
    first = engine.generation

    async def scenario(w: World) -> None:
        before = await w.alice.slash(w.channel, "ask", question=HARBOUR)
        assert "harbour.txt" not in _sources(before.response)
        (settings.seeds_dir / "harbour.txt").write_text(
            "Harbour of Qelvin\n\nThe harbour of Qelvin has exactly 47 mooring posts, all painted bright orange.\n",
            encoding="utf-8",
        )
        # the document list notices the new file before the rebuild
        listing = await w.mod.slash(w.channel, "sources")
        assert any(f.name == "Changed since the build" for f in listing.response.embeds[0].fields)

        with pytest.raises(simcord.SetupError):  # hidden from members without Manage Server
            await w.alice.slash(w.channel, "reindex")

        done = await w.mod.slash(w.channel, "reindex")
        assert done.ephemeral and done.response.content.startswith("Index rebuilt: generation ")
        assert engine.generation != first and engine.generation in done.response.content

        after = await w.alice.slash(w.channel, "ask", question=HARBOUR)
        assert "47 mooring posts" in (after.response.embeds[0].description or "").replace("**", "")
        assert "harbour.txt" in _sources(after.response)

        # a rebuild from the command line while the bot runs (another process, same folder)
        (settings.seeds_dir / "lighthouse.txt").write_text(
            "Lighthouse of Varrow Point\n\nThe lighthouse of Varrow Point is painted in red and white stripes.\n",
            encoding="utf-8",
        )
        QAEngine(settings, embedder=embedder).build()
        picked = await w.alice.slash(w.channel, "ask", question=LIGHTHOUSE)
        assert "red and white stripes" in (picked.response.embeds[0].description or "").replace("**", "")
        assert "lighthouse.txt" in _sources(picked.response)

    run_scenario(engine, bot_settings(settings), scenario)


def test_owner_ids_may_reindex_from_a_direct_message(fresh: tuple[QAEngine, Settings]) -> None:
    engine, settings = fresh
    first = engine.generation
    ids: dict[str, int] = {}

    async def discover(w: World) -> None:  # simcord hands out the same ids in every run
        ids["alice"] = w.alice.id

    async def scenario(w: World) -> None:
        assert w.alice.id == ids["alice"]
        done = await w.alice.user.slash("reindex", full=True)
        assert done.ephemeral and "Index rebuilt" in done.response.content
        stranger = await w.mod.user.slash("reindex")  # Manage Server means nothing in a DM
        assert stranger.response.content == NOT_ALLOWED

    run_scenario(engine, bot_settings(settings), discover)
    run_scenario(engine, bot_settings(settings, discord_owner_ids=[ids["alice"]]), scenario)
    assert engine.generation != first


def test_a_failed_rebuild_keeps_the_old_index(fresh: tuple[QAEngine, Settings]) -> None:
    engine, settings = fresh
    first = engine.generation

    async def scenario(w: World) -> None:
        shutil.rmtree(settings.seeds_dir)
        done = await w.mod.slash(w.channel, "reindex")
        assert done.ephemeral and done.response.content.startswith("The rebuild failed; the previous index")
        still = await w.alice.slash(w.channel, "ask", question="How many missiles were launched?")
        assert still.response.embeds[0].fields

    run_scenario(engine, bot_settings(settings), scenario)
    assert engine.generation == first
