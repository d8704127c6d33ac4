"""The Discord bot end to end: create_bot on the real seed engine, driven through simcord.

A simulated Discord (real discord.py code, Discord's limits, intents and mention rules)
with members who use /ask, mention the bot, reply to answers and write in threads.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest
import simcord

from qabot.bot.client import BUSY, EMPTY_QUESTION, GENERIC_ERROR, NOT_ALLOWED
from qabot.records import ABSTAIN_TEXT
from tests.bot_fixtures import (
    SEED_SOURCE,
    World,
    assert_pings_nobody,
    assert_within_limits,
    bot_messages,
    bot_settings,
    callback_types,
    citations_shown,
    marked_citations,
    marked_numbers,
    run_scenario,
    visible_text,
)

pytestmark = pytest.mark.slow

MISSILES = "How many missiles were launched?"
FAILED = "and how many failed?"
FAILED_SPAN = (852, 973)  # "Ten of those hit ..., and four failed mid-flight."


@pytest.fixture
def settings(seed_settings):  # type: ignore[no-untyped-def]
    return bot_settings(seed_settings)


@pytest.fixture
def asked(seed_engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Every (question, history) the bot passed to the engine."""
    calls: list[tuple[str, list[str]]] = []
    real = seed_engine.ask

    def spy(question: str, k: int | None = None, history: Any = ()) -> Any:
        calls.append((question, list(history)))
        return real(question, k=k, history=history)

    monkeypatch.setattr(seed_engine, "ask", spy)
    return calls


def test_slash_ask_defers_and_answers_with_numbered_sources(seed_engine, settings, asked) -> None:
    expected = seed_engine.ask(MISSILES)
    assert not expected.abstained and expected.citations
    asked.clear()

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert callback_types(w.env)[:1] == [5]  # deferred at once, answered afterwards
        answer = result.response
        assert answer is not None and not answer.ephemeral and answer.content == ""
        assert_within_limits(answer)
        assert_pings_nobody(answer)
        embed = answer.embeds[0]
        assert embed.title == MISSILES
        assert (embed.description or "").replace("**", "") == expected.text  # the answer with its [n] markers
        assert "[1]" in (embed.description or "")
        shown = citations_shown(answer)
        assert shown == marked_citations(expected)
        assert all(source == SEED_SOURCE for source, _, _ in shown)
        quotes = [f.value for f in embed.fields]
        first = expected.citations[marked_numbers(expected)[0] - 1]
        assert quotes[0].startswith("**Iran Retaliates") and "\n> " in quotes[0]  # the document's title, then a quote
        assert first.text[:40] in quotes[0]
        # a thread on the answer, named after the question, for follow-ups
        (thread,) = w.channel.threads
        assert thread.id == answer.id and thread.name == MISSILES
        assert "Follow-up questions go here" in thread.last_message.content

    run_scenario(seed_engine, settings, scenario)
    assert asked == [(MISSILES, [])]


def test_mention_and_direct_message_work_without_message_content_intent(seed_engine, settings) -> None:
    expected = seed_engine.ask(MISSILES)

    async def scenario(w: World) -> None:
        assert w.bot.intents.message_content is False
        question = await w.alice.send(w.channel, f"{w.mention} {MISSILES}")
        reply = w.channel.last_message
        assert reply.author.id == w.bot.user.id
        assert reply.reference is not None and reply.reference.message_id == question.id
        assert (
            reply.embeds[0].title == MISSILES and (reply.embeds[0].description or "").replace("**", "") == expected.text
        )
        assert citations_shown(reply) == marked_citations(expected)
        assert_within_limits(reply)
        assert_pings_nobody(reply)  # the reply does not even ping the asker

        # plain chatter is not for the bot (and Discord withholds its text anyway)
        before = len(w.channel.history())
        await w.alice.send(w.channel, MISSILES)
        assert len(w.channel.history()) == before + 1

        # a mention with nothing to ask gets a hint, not an error
        await w.alice.send(w.channel, w.mention)
        assert EMPTY_QUESTION in w.channel.last_message.content

        await w.alice.send_dm(MISSILES)
        dm = w.alice.user.dm_channel.last_message
        assert dm.author.id == w.bot.user.id and (dm.embeds[0].description or "").replace("**", "") == expected.text

    run_scenario(seed_engine, settings, scenario)


def test_follow_up_by_reply_takes_the_earlier_question_into_account(seed_engine, settings, asked) -> None:
    async def scenario(w: World) -> None:
        await w.alice.send(w.channel, f"{w.mention} {MISSILES}")
        first = w.channel.last_message
        await w.alice.send(w.channel, FAILED, reply_to=first)  # no mention: the reply itself addresses the bot
        second = w.channel.last_message
        assert second.author.id == w.bot.user.id and second.reference.message_id != first.id
        assert "four failed" in (second.embeds[0].description or "").replace("**", "")
        assert (SEED_SOURCE, *FAILED_SPAN) in citations_shown(second)
        # and a reply to the follow-up carries the whole conversation
        await w.alice.send(w.channel, "where did the others hit?", reply_to=second)

    run_scenario(seed_engine, settings, scenario)
    assert asked == [(MISSILES, []), (FAILED, [MISSILES]), ("where did the others hit?", [MISSILES, FAILED])]


def test_follow_up_in_the_thread_the_bot_opened(seed_engine, settings, asked) -> None:
    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        (thread,) = w.channel.threads
        assert thread.id == result.response.id
        await w.alice.send(thread, f"{w.mention} {FAILED}")
        answer = thread.last_message
        assert answer.author.id == w.bot.user.id
        assert "four failed" in (answer.embeds[0].description or "").replace("**", "")
        assert_pings_nobody(answer)
        # an answer in the thread can be replied to as well
        await w.alice.send(thread, "and where did one hit?", reply_to=answer)
        assert "Irbil" in visible_text(thread.last_message)
        # a reply to the /ask answer itself (with a mention: it was an interaction response)
        # continues the same conversation, since the thread shares the answer's id
        await w.alice.send(w.channel, f"{w.mention} how many were launched in total?", reply_to=result.response)

    run_scenario(seed_engine, settings, scenario)
    assert asked == [
        (MISSILES, []),
        (FAILED, [MISSILES]),
        ("and where did one hit?", [MISSILES, FAILED]),
        ("how many were launched in total?", [MISSILES, FAILED, "and where did one hit?"]),
    ]


def test_abstention_reads_as_a_polite_answer(seed_engine, settings) -> None:
    question = "What is the capital of France?"
    assert seed_engine.ask(question).abstained

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=question)
        answer = result.response
        assert answer is not None and not answer.ephemeral
        (embed,) = answer.embeds
        assert ABSTAIN_TEXT in (embed.description or "")
        assert embed.colour != discord.Colour.red() and not embed.fields
        assert "error" not in visible_text(answer).lower()
        assert w.channel.threads == []  # nothing to follow up on

    run_scenario(seed_engine, settings, scenario)


def test_cooldown_refuses_quick_questions_until_it_expires(seed_engine, seed_settings) -> None:
    settings = bot_settings(seed_settings, discord_cooldown_seconds=30.0, discord_cooldown_rate=2)

    async def scenario(w: World) -> None:
        first = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert first.response.embeds
        second = await w.alice.slash(w.channel, "ask", question=MISSILES)  # a burst of `rate` is fine
        assert second.response.embeds and not second.ephemeral
        refused = await w.alice.slash(w.channel, "ask", question=FAILED)
        assert refused.ephemeral and "please wait 30 s" in refused.response.content
        assert callback_types(w.env)[-1] == 4  # refused at once, never deferred
        # by mention: told once, then quiet (no reply storm for a spammer)
        count = len(bot_messages(w.channel, w.bot))
        await w.alice.send(w.channel, f"{w.mention} {FAILED}")
        await w.alice.send(w.channel, f"{w.mention} {FAILED}")
        told = bot_messages(w.channel, w.bot)[count:]
        assert len(told) == 1 and "please wait" in told[0].content
        # another member is not affected
        other = await w.mod.slash(w.channel, "ask", question=MISSILES)
        assert other.response.embeds
        await w.env.advance_time(30)
        again = await w.alice.slash(w.channel, "ask", question=FAILED)
        assert again.response.embeds and not again.ephemeral

    run_scenario(seed_engine, settings, scenario)


def test_long_and_empty_questions_and_a_full_queue_get_short_ephemeral_messages(seed_engine, seed_settings) -> None:
    settings = bot_settings(seed_settings, discord_max_question_chars=100, discord_max_queue=0)

    async def scenario(w: World) -> None:
        long = await w.alice.slash(w.channel, "ask", question="why " * 40)
        assert long.ephemeral and "the limit here is 100" in long.response.content
        blank = await w.alice.slash(w.channel, "ask", question="   ")
        assert blank.ephemeral and blank.response.content == EMPTY_QUESTION
        gate = w.cog.gate
        held = [gate.admit() for _ in range(gate.capacity)]  # every place taken
        busy = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert busy.ephemeral and busy.response.content.startswith(BUSY)
        assert "try again in about" in busy.response.content
        for ticket in held:
            ticket.close()
        ok = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert ok.response.embeds

    run_scenario(seed_engine, settings, scenario)


def test_reindex_is_hidden_from_members_and_refused_without_manage_server(seed_engine, settings, monkeypatch) -> None:
    builds: list[Any] = []
    monkeypatch.setattr(seed_engine, "build", lambda *a, **k: builds.append((a, k)))
    generation = seed_engine.generation

    async def scenario(w: World) -> None:
        assert set(w.alice.available_commands(w.channel)) == {"ask", "sources"}  # default_permissions
        assert {"reindex", "add"} <= set(w.mod.available_commands(w.channel))
        with pytest.raises(simcord.SetupError, match="default-member-permissions"):  # Discord refuses it
            await w.alice.slash(w.channel, "reindex")
        # an admin lets alice see the command (Server Settings, Integrations): the bot still refuses
        (command,) = [c for c in await w.bot.tree.fetch_commands() if c.name == "reindex"]
        w.guild.set_command_permissions(command, {w.alice: True})
        result = await w.alice.slash(w.channel, "reindex")
        assert result.ephemeral and result.response.content == NOT_ALLOWED

    run_scenario(seed_engine, settings, scenario)
    assert builds == [] and seed_engine.generation == generation


def test_sources_lists_what_is_indexed(seed_engine, settings) -> None:
    info = seed_engine.info()

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "sources")
        assert result.ephemeral
        (embed,) = result.response.embeds
        fields = {f.name: f.value for f in embed.fields}
        assert fields["Documents"] == str(info.documents) and fields["Chunks"] == str(info.chunks)
        assert info.model in fields["Model"] and info.generation in fields["Generation"]
        assert fields["Built"].startswith("<t:")
        assert f"`{SEED_SOURCE}`" in (embed.description or "")
        assert_within_limits(result.response)

    run_scenario(seed_engine, settings, scenario)


def test_a_failed_discord_call_is_logged_and_the_user_told(seed_engine, settings, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qabot.bot")

    async def scenario(w: World) -> None:
        w.env.inject_error("POST", "/webhooks/*", status=500)  # sending the answer fails once
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert result.response is None  # the public "thinking…" placeholder is gone
        (told,) = result.followups
        assert told.ephemeral and told.content == GENERIC_ERROR
        # a mention whose reply fails once: logged, and the bot carries on
        w.env.inject_error("POST", "/channels/*/messages", status=500)
        await w.alice.send(w.channel, f"{w.mention} {MISSILES}")
        assert GENERIC_ERROR in w.channel.last_message.content
        again = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert again.response.embeds
        assert w.env.errors == []  # handled, not crashed

    run_scenario(seed_engine, settings, scenario)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "qabot.bot"]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    assert "500" in caplog.text


def test_the_bot_needs_a_sync_setting_to_register_commands(seed_engine, seed_settings) -> None:
    settings = bot_settings(seed_settings, discord_sync="off")

    async def scenario(w: World) -> None:
        assert w.alice.available_commands(w.channel) == ()
        assert not [r for r in w.env.http_requests if "/commands" in r.path]

    run_scenario(seed_engine, settings, scenario)

    async def synced(w: World) -> None:
        assert set(w.alice.available_commands(w.channel)) == {"ask", "sources"}
        assert set(w.mod.available_commands(w.channel)) == {"ask", "sources", "reindex", "add"}

    run_scenario(seed_engine, bot_settings(seed_settings), synced)


def test_auto_sync_registers_only_when_the_commands_changed(seed_engine, seed_settings) -> None:
    settings = seed_settings.model_copy(update={"discord_sync": "auto", "discord_cooldown_seconds": 0.0})

    def puts(w: World) -> list[str]:
        return [r.path for r in w.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]

    async def scenario(w: World) -> None:
        assert len(puts(w)) == 1  # nothing registered yet: synced once
        assert set(w.mod.available_commands(w.channel)) == {"ask", "sources", "reindex", "add"}
        await w.env.restart_bot()  # same commands already registered: no second sync
        assert len(puts(w)) == 1
        result = await w.alice.slash(w.channel, "ask", question=MISSILES)
        assert result.response.embeds

    run_scenario(seed_engine, settings, scenario)


def test_a_sharded_bot_answers_too(seed_engine, seed_settings) -> None:
    settings = bot_settings(seed_settings, discord_sharded=True, discord_shard_count=2)

    async def scenario(w: World) -> None:
        assert isinstance(w.bot, discord.AutoShardedClient) and w.bot.shard_count == 2
        other = w.env.create_guild("Second", shard_id=1)
        channel = other.create_text_channel("general")
        bob = other.add_member(w.env.create_user("bob"))
        for member, where in ((w.alice, w.channel), (bob, channel)):
            result = await member.slash(where, "ask", question=MISSILES)
            assert result.response.embeds[0].fields

    run_scenario(seed_engine, settings, scenario)


def test_default_settings_work_as_a_server_sees_them(seed_engine, seed_settings) -> None:
    """No overrides: commands get registered, a member can ask a few questions in a row."""

    async def scenario(w: World) -> None:
        assert set(w.alice.available_commands(w.channel)) == {"ask", "sources"}
        for question in (MISSILES, "Who is Iran's foreign minister?", "What did Trump tweet?"):
            result = await w.alice.slash(w.channel, "ask", question=question)
            assert result.response.embeds and not result.ephemeral, question
            assert_pings_nobody(result.response)

    run_scenario(seed_engine, seed_settings, scenario)
