"""Admin controls through simcord on the real engine: channels, direct messages, roles,
/reindex hidden, per-server knowledge bases and /add, and the auto-sync permission check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import discord
import pytest

from qabot import QAEngine, Settings
from qabot.bot.client import NO_DMS, NO_GUILDS_DIR, NOT_ALLOWED
from qabot.records import ABSTAIN_TEXT
from tests.bot_fixtures import World, bot_messages, bot_settings, citations_shown, run_scenario, visible_text
from tests.conftest import SEED_FILE

pytestmark = pytest.mark.slow

MISSILES = "How many missiles were launched?"
HARBOUR = "How many mooring posts does the harbour of Qelvin have?"
HARBOUR_MD = (
    "---\ntitle: Harbour guide\nurl: https://docs.example.com/harbour\n---\n"
    "# Harbour of Qelvin\n\nThe harbour of Qelvin has exactly 47 mooring posts, all painted bright orange.\n"
)


def test_channels_direct_messages_and_roles_restrict_who_is_answered_where(seed_engine) -> None:
    settings = bot_settings(discord_channels=["help"], discord_dms=False, discord_roles=["Askers"])

    async def scenario(w: World) -> None:
        help_channel = w.guild.create_text_channel("help")
        askers = w.guild.create_role("Askers")
        bob = w.guild.add_member(w.env.create_user("bob"), roles=[askers])

        elsewhere = await bob.slash(w.channel, "ask", question=MISSILES)
        assert elsewhere.ephemeral and "#help" in elsewhere.response.content
        count = len(w.channel.history())
        await bob.send(w.channel, f"{w.mention} {MISSILES}")  # a mention outside the bot's channels
        assert len(w.channel.history()) == count + 1  # ignored

        ok = await bob.slash(help_channel, "ask", question=MISSILES)
        assert not ok.ephemeral and "15 ballistic missiles" in visible_text(ok.response)
        await bob.send(help_channel, f"{w.mention} {MISSILES}")
        assert help_channel.last_message.author.id == w.bot.user.id and help_channel.last_message.embeds

        no_role = await w.alice.slash(help_channel, "ask", question=MISSILES)
        assert no_role.ephemeral and "Askers" in no_role.response.content
        await w.alice.send(help_channel, f"{w.mention} {MISSILES}")
        assert "Askers" in help_channel.last_message.content and not help_channel.last_message.embeds

        await bob.send_dm(MISSILES)
        dm = bob.user.dm_channel.last_message
        assert dm.author.id == w.bot.user.id and dm.content == NO_DMS and not dm.embeds
        slash_dm = await bob.user.slash("ask", question=MISSILES)
        assert slash_dm.ephemeral and slash_dm.response.content == NO_DMS

    run_scenario(seed_engine, settings, scenario)


def test_channels_by_id_include_their_threads(seed_engine) -> None:
    async def scenario(w: World) -> None:
        other = w.guild.create_text_channel("random")
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        (thread,) = w.channel.threads
        await w.alice.send(thread, f"{w.mention} and how many failed?")
        assert "four failed" in visible_text(thread.last_message)
        refused = await w.alice.slash(other, "ask", question=MISSILES)
        assert refused.ephemeral and "#general" in refused.response.content
        assert result.response.embeds

    holder: dict[str, int] = {}

    async def discover(w: World) -> None:
        holder["general"] = w.channel.id

    run_scenario(seed_engine, bot_settings(), discover)  # simcord hands out the same ids every run
    run_scenario(seed_engine, bot_settings(discord_channels=[str(holder["general"])]), scenario)


def test_direct_messages_are_answered_by_default(seed_engine) -> None:
    async def scenario(w: World) -> None:
        await w.alice.send_dm(MISSILES)
        assert w.alice.user.dm_channel.last_message.embeds

    run_scenario(seed_engine, bot_settings(), scenario)


@pytest.fixture
def shared(tmp_path: Path, embedder: Any) -> tuple[QAEngine, Settings]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    return QAEngine.from_settings(settings, embedder=embedder), settings


def test_each_server_can_have_its_own_knowledge_base_filled_with_add(shared, tmp_path: Path) -> None:
    engine, _ = shared
    guilds = tmp_path / "guilds"
    settings = bot_settings(discord_guilds_dir=guilds, discord_add_max_bytes=2000)
    outside = sorted(p.name for p in tmp_path.iterdir())

    async def scenario(w: World) -> None:
        other = w.env.create_guild("Other")
        other_channel = other.create_text_channel("general")
        carol = other.add_member(w.env.create_user("carol"))

        before = await w.alice.slash(w.channel, "ask", question=HARBOUR)
        assert ABSTAIN_TEXT in visible_text(before.response)

        added = await w.mod.slash(w.channel, "add", document=("harbour.md", HARBOUR_MD.encode()))
        assert added.ephemeral
        (told,) = [*([added.response] if added.response else []), *added.followups][-1:]
        assert (
            "Saved `harbour.md`" in told.content
            and "This server's index rebuilt: generation " in told.content
            and "1 document," in told.content
        )
        seeds = guilds / str(w.guild.id) / "seeds"
        assert [p.name for p in seeds.iterdir()] == ["harbour.md"]
        assert (guilds / str(w.guild.id) / "index").is_dir()

        after = await w.alice.slash(w.channel, "ask", question=HARBOUR)
        text = visible_text(after.response)
        assert "47 mooring posts" in text
        assert [s for s, _, _ in citations_shown(after.response)] == ["harbour.md"]
        # the source shows its title, linked from the Markdown front matter
        assert "**[Harbour guide](https://docs.example.com/harbour)**" in after.response.embeds[0].fields[0].value

        listing = await w.mod.slash(w.channel, "sources")
        (embed,) = listing.response.embeds
        assert embed.title == "This server's documents" and "`harbour.md`" in (embed.description or "")
        rebuilt = await w.mod.slash(w.channel, "reindex")
        assert "This server's index already up to date" in rebuilt.response.content
        assert "1 document " in rebuilt.response.content

        # another server keeps the shared index
        elsewhere = await carol.slash(other_channel, "ask", question=HARBOUR)
        assert ABSTAIN_TEXT in visible_text(elsewhere.response)
        shared_answer = await carol.slash(other_channel, "ask", question=MISSILES)
        assert "15 ballistic missiles" in visible_text(shared_answer.response)

        # refused uploads: too big, wrong type, a path in the name; nothing is written
        for name, data, reason in (
            ("big.md", b"x" * 2001, "the limit is 2,000"),
            ("tool.exe", b"MZ", "not a kind of document"),
            ("../escape.md", b"# Escape\n\nOutside.\n", "plain name"),
            ("..\\escape.md", b"# Escape\n\nOutside.\n", "plain name"),
        ):
            refused = await w.mod.slash(w.channel, "add", document=(name, data))
            assert refused.ephemeral and refused.response.content.startswith("Not added:"), name
            assert reason in refused.response.content, name
        assert [p.name for p in seeds.iterdir()] == ["harbour.md"]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*outside, "guilds"])
        assert not list(guilds.glob("*.md")) and not (guilds / str(w.guild.id) / "escape.md").exists()

    run_scenario(engine, settings, scenario)


def test_add_is_for_admins_and_needs_a_guilds_folder(shared) -> None:
    engine, _ = shared

    async def scenario(w: World) -> None:
        assert "add" not in w.alice.available_commands(w.channel)
        result = await w.mod.slash(w.channel, "add", document=("a.md", b"# A\n\nText.\n"))
        assert result.ephemeral and result.response.content == NO_GUILDS_DIR
        (command,) = [c for c in await w.bot.tree.fetch_commands() if c.name == "add"]
        w.guild.set_command_permissions(command, {w.alice: True})
        denied = await w.alice.slash(w.channel, "add", document=("a.md", b"# A\n\nText.\n"))
        assert denied.response.content == NOT_ALLOWED

    run_scenario(engine, bot_settings(), scenario)


def test_auto_sync_re_registers_when_only_the_permissions_changed(seed_engine) -> None:
    settings = bot_settings(discord_sync="auto")

    def puts(w: World) -> int:
        return len([r for r in w.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")])

    async def scenario(w: World) -> None:
        assert puts(w) == 1
        # what an older qabot registered: the same commands without default_member_permissions
        app_id = w.bot.application_id
        old = [dict(c) for c in await w.bot.http.get_global_commands(app_id)]
        for c in old:
            for key in ("default_member_permissions", "id", "application_id", "version", "guild_id"):
                c.pop(key, None)
        await w.bot.http.bulk_upsert_global_commands(app_id, old)
        assert "reindex" in w.alice.available_commands(w.channel)  # the old registration showed it to all
        await w.env.restart_bot()
        assert puts(w) == 3  # the test's own PUT, then the bot's re-registration
        assert "reindex" not in w.alice.available_commands(w.channel)
        await w.env.restart_bot()
        assert puts(w) == 3  # unchanged now: no further sync

    run_scenario(seed_engine, settings, scenario)


def test_busy_refusals_say_how_long_to_wait(seed_engine) -> None:
    settings = bot_settings(discord_max_concurrency=1, discord_max_wait_seconds=10.0)

    async def scenario(w: World) -> None:
        gate = w.cog.gate
        gate.answer_seconds = 4.0  # measured: 4 s per answer
        held = [gate.admit() for _ in range(3)]  # 1 answering, 2 waiting: the next would wait 12 s
        busy = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert busy.ephemeral and "try again in about 12 s" in busy.response.content
        await w.alice.send(w.channel, f"{w.mention} {MISSILES}")
        assert "try again in about 12 s" in w.channel.last_message.content
        held.pop().close()  # one fewer waiting: 8 s, admitted
        ok = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert ok.response is not None or ok.deferred
        for ticket in held:
            ticket.close()
        assert bot_messages(w.channel, w.bot)
        assert discord is not None

    run_scenario(seed_engine, settings, scenario)


def test_a_stopping_bot_refuses_new_questions_and_resumes(seed_engine, tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.cog.drain()  # what SIGTERM does first: nothing in flight, so it returns at once
        refused = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert refused.ephemeral and "restarting" in refused.response.content
        w.cog.shut()  # the question log and the servers' own indexes are closed
        assert w.cog.question_log is None
        w.cog.resume()
        again = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert "15 ballistic missiles" in visible_text(again.response)
        assert w.cog.question_log is not None

    run_scenario(seed_engine, bot_settings(discord_log=tmp_path / "log.sqlite3"), scenario)


def test_a_burst_of_50_members_is_all_answered_by_the_time_based_gate(seed_engine) -> None:
    """The old gate told 28 of 50 to come back in a minute though the queue drained in 0.7 s."""
    settings = bot_settings(discord_max_concurrency=2, discord_max_wait_seconds=30.0)

    async def scenario(w: World) -> None:
        members = [w.guild.add_member(w.env.create_user(f"member{i}")) for i in range(50)]
        gate = w.cog.gate
        admit, peak = gate.admit, [0]

        def counting_admit() -> Any:
            ticket = admit()
            peak[0] = max(peak[0], gate.admitted)
            return ticket

        gate.admit = counting_admit
        # all 50 questions reach the bot before it answers any (simcord runs one member action
        # at a time, so they are put straight into the simulated Discord, then the bot settles)
        for member in members:
            w.env.backend.create_message(w.channel.id, member.id, f"{w.mention} {MISSILES}")
        await w.env.settle(timeout=600)
        replies = [m for m in bot_messages(w.channel, w.bot) if m.reference is not None]
        assert len(replies) == 50
        assert all(m.embeds and "15 ballistic missiles" in visible_text(m) for m in replies)  # nobody told "busy"
        assert peak[0] > gate.concurrency  # a real queue formed, and nobody was refused
        assert gate.admitted == 0 and gate.measured == 50  # every answer timed (on simcord's virtual clock)

    run_scenario(seed_engine, settings, scenario)
