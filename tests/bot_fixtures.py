"""Helpers for the Discord bot tests: a simcord world around a bot made by create_bot.

Each scenario runs in its own event loop with a fresh bot (discord.py clients belong to
one loop) while the engine, with its model and index, is shared by the session.

simcord's approved intents are discord.Intents.default(): the developer portal has not
granted the privileged message-content intent, so a bot that asked for it could not
even connect.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import discord
import simcord

from qabot.bot import create_bot
from qabot.bot.format import check_embed, marked_numbers
from qabot.bot.settings import DiscordSettings

SEED_SOURCE = "000_1e0f96428eb82f3b.txt"
SETTLE_SECONDS = 600.0

# simcord waits a fixed 5 s for the bot to settle after connecting (not the settle_timeout
# option): on a loaded machine, starting the bot can take longer. Give it the same patience.
_settle_internal = simcord.Env._settle_internal


async def _patient_settle(self: simcord.Env, *, timeout: float | None = None, **kw: Any) -> Any:
    if timeout == 5.0:
        timeout = self.settle_timeout
    return await _settle_internal(self, timeout=timeout, **kw)


simcord.Env._settle_internal = _patient_settle  # type: ignore[method-assign]


def bot_settings(base: Any = None, **overrides: Any) -> DiscordSettings:
    """The bot's settings (not read from the environment): commands synced and, unless overridden, no cooldown.

    `base` (the core settings of the engine) is accepted for readability and not used.
    """
    values: dict[str, Any] = {"discord_sync": "global", "discord_cooldown_seconds": 0.0, **overrides}
    return DiscordSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class World:
    env: simcord.Env
    bot: Any
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    alice: simcord.MemberActor  # a member without special permissions
    mod: simcord.MemberActor  # a member with Manage Server

    @property
    def mention(self) -> str:
        return f"<@{self.bot.user.id}>"

    @property
    def cog(self) -> Any:
        return self.bot.get_cog("qabot")


Scenario = Callable[[World], Awaitable[None]]


def run_scenario(engine: Any, settings: Any, scenario: Scenario, **env_options: Any) -> None:
    """Run `scenario` against a fresh bot; simcord waits generously for the bot to settle
    (a loaded machine can be slow: no test depends on wall-clock speed)."""

    async def main() -> None:
        bot = create_bot(engine, settings)
        # simcord waits 5 s of wall-clock time for the bot to settle after each event; on a loaded
        # machine a real retrieval (or a reindex) can take longer. Settling is waited on, not
        # timed: the limit only stops a hung test.
        options = {"approved_intents": discord.Intents.default(), "settle_timeout": SETTLE_SECONDS, **env_options}
        async with simcord.run(bot, **options) as env:
            guild = env.create_guild("Test Guild")
            channel = guild.create_text_channel("general")
            alice = guild.add_member(env.create_user("alice"))
            managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
            mod = guild.add_member(env.create_user("mod"), roles=[managers])
            await scenario(World(env, bot, guild, channel, alice, mod))

    asyncio.run(main())


# ---- reading what a Discord user sees -----------------------------------------------------
def embed_texts(embeds: Iterable[discord.Embed]) -> list[str]:
    out: list[str] = []
    for e in embeds:
        out += [e.title or "", e.description or "", e.footer.text or "", e.author.name or ""]
        for f in e.fields:
            out += [f.name or "", f.value or ""]
    return [t for t in out if t]


def visible_text(message: Any) -> str:
    """Everything a user reads in a message: content and every embed text."""
    return "\n".join([message.content or "", *embed_texts(message.embeds)])


def citations_shown(message: Any) -> list[tuple[str, int, int]]:
    """(source, start, end) of every numbered source field, in order."""
    found = []
    for e in message.embeds:
        for f in e.fields:
            m = re.match(r"\[(\d+)\] `(.+)` · chars (\d+)–(\d+)$", f.name or "")
            if m:
                found.append((m.group(2), int(m.group(3)), int(m.group(4))))
    return found


def marked_citations(answer: Any) -> list[tuple[str, int, int]]:
    """(source, start, end) of the citations an answer's text marks: the ones shown with it."""
    return [
        (answer.citations[n - 1].source, answer.citations[n - 1].start, answer.citations[n - 1].end)
        for n in marked_numbers(answer)
    ]


def bot_messages(channel: simcord.ChannelHandle, bot: Any) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.id == bot.user.id and m.type != discord.MessageType.thread_created]


def assert_within_limits(message: Any) -> None:
    assert len(message.content or "") <= 2000
    assert len(message.embeds) <= 10
    for e in message.embeds:
        check_embed(e)
    assert sum(len(e) for e in message.embeds) <= 6000


def assert_pings_nobody(message: Any) -> None:
    msg = message.message if isinstance(message, simcord.ResponseMessage) else message
    assert not msg.mention_everyone
    assert msg.mentions == []
    assert msg.role_mentions == []


def assert_inert(text: str) -> None:
    """No live mass mention or role/user mention survives in `text`."""
    assert not re.search(r"@(everyone|here)", text, re.IGNORECASE), text
    assert not re.search(r"<@[!&]?\d+>", text), text


def callback_types(env: simcord.Env) -> list[int]:
    """Interaction callback types the bot sent, in order (5 = deferred, 4 = message)."""
    return [
        int(r.json["type"])
        for r in env.http_requests
        if r.method == "POST" and r.path.endswith("/callback") and isinstance(r.json, dict)
    ]
