"""The Discord bot: `create_bot(engine, settings)` builds it (without starting it).

    /ask question:<text>      defer, retrieve in a worker thread, answer with an embed and buttons
    /sources                  what is indexed (this server's own documents when it has them)
    /reindex [full]           rebuild and switch to the new index (Manage Server or owner ids)
    /add document:<file>      save a document into this server's seeds and rebuild (Manage Server)
    @bot <question>           the same answer as a reply, in channels and direct messages
    reply / thread / button   a follow-up: the earlier questions are passed to the engine

Under every answer: Follow up (a modal, whose text reaches the bot without the
message-content intent), 👍 / 👎 (kept in the question log), More sources, and, when
QABOT_DISCORD_HELPER_ROLE is set, "Still need help?" which pings that role: the only
mention the bot ever makes. Everything else is sent with `allowed_mentions` none, and
text from documents or users is escaped (see format.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from ..engine import QAEngine
from ..errors import ConfigError, IndexUnusable, QabotError, QuestionError, SourceError
from ..records import Answer, BuildReport, Citation, IndexInfo
from ..settings import Settings
from . import buttons
from .conversation import Conversations
from .format import (
    Reply,
    answer_footer,
    answer_replies,
    escape,
    marked_numbers,
    more_sources_embed,
    notice,
    plural,
    question_from_embeds,
    sources_embed,
    thread_name,
)
from .health import Health
from .knowledge import SHARED, Knowledge, upload_name
from .limits import Cooldown, EditPacer, Gate
from .markup import clean_question, looks_like_question
from .question_log import QuestionLog
from .settings import DiscordSettings
from .source_links import SourceInfo, SourceLinks

log = logging.getLogger("qabot.bot")

AnyBot: TypeAlias = "commands.Bot | commands.AutoShardedBot"

NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # one day
SHOWN_ANSWERS = 2000  # answers whose buttons work from memory (older ones: from the question log)
DRAIN_SECONDS = 20.0  # how long a stopping bot lets answers in flight finish
MAX_FETCHED_NAMES = 5  # user mentions in one question looked up over HTTP when not cached
USER_MENTION = re.compile(r"<@!?(\d{15,25})>")
EDIT_SECONDS = 1.0  # a written answer streams into its message at most one edit per second (Discord's edit rate)
STREAM_ACK_SECONDS = 10.0  # how long the model's reader waits for the event loop to show a piece
STREAMING_MARK = " …"

GENERIC_ERROR = "Sorry, something went wrong while answering. Please try again in a moment."
INDEX_ERROR = "The document index isn't available right now. An admin can run /reindex (or `qabot index build`)."
BUSY = "I'm answering a lot of questions right now."
NOT_ALLOWED = "Only members with the Manage Server permission (or the bot's owners) can do this."
EMPTY_QUESTION = "Ask me a question about the documents, for example: how many missiles were launched?"
FOLLOW_UP_HINT = (
    "I can't read replies to this answer. To follow up, press **Follow up** under the answer, "
    "or mention me in your message."
)
NO_DMS = "I don't answer direct messages here: ask in the server, with /ask or by mentioning me."
NO_ROLE = "Only members with one of these roles can ask me questions here: {roles}."
ANSWER_GONE = "That answer is too old for this button: ask the question again with /ask."
THANKS = "Thanks for the feedback!"
NO_GUILDS_DIR = "Per-server documents are off: the bot's admin can set QABOT_DISCORD_GUILDS_DIR."


def busy_text(wait: float) -> str:
    return f"{BUSY} Please try again in about {max(1, math.ceil(wait))} s."


# ---- construction ---------------------------------------------------------------------
def bot_intents(settings: DiscordSettings) -> discord.Intents:
    """The smallest set the bot needs; message_content only when explicitly enabled."""
    intents = discord.Intents.none()
    intents.guilds = True  # channels, threads, roles and permissions
    intents.guild_messages = True  # mentions and replies in servers
    intents.dm_messages = True  # direct messages
    intents.message_content = bool(settings.discord_message_content)
    return intents


def discord_settings(settings: Settings | DiscordSettings | None) -> DiscordSettings:
    """The bot's settings: as given, or read from the environment and .env."""
    if isinstance(settings, DiscordSettings):
        return settings
    from pydantic import ValidationError

    try:
        return DiscordSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"Invalid setting QABOT_{where.upper()}: {first['msg']} (check the environment and .env)."
        ) from None


def create_bot(engine: QAEngine, settings: Settings | DiscordSettings | None = None) -> AnyBot:
    """A ready-to-start bot answering from `engine`. Nothing connects until `bot.start()`.

    `settings`: the bot's DiscordSettings, or the core Settings (the bot's own settings are
    then read from the environment and .env).
    """
    s = discord_settings(settings)
    if s.discord_sync == "guild" and s.discord_guild_id is None:
        raise ConfigError("QABOT_DISCORD_SYNC=guild needs QABOT_DISCORD_GUILD_ID (the id of your test server).")
    # qabot never joins voice: skip discord.py's start-up warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    options: dict[str, Any] = {
        # Never used for text commands (on_message below skips them); when_mentioned
        # keeps discord.py from warning about the message-content intent we don't need.
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": bot_intents(s),
        "allowed_mentions": NO_MENTIONS,
        "member_cache_flags": discord.MemberCacheFlags.none(),
        "chunk_guilds_at_startup": False,
        "max_messages": None,
    }
    if s.discord_sharded:
        return ShardedQABot(engine, s, shard_count=s.discord_shard_count, **options)
    return QABot(engine, s, **options)


class _QABotMixin:
    """What both bot classes add to discord.py's: the engine, the settings, the cog, a clean stop."""

    def __init__(self, engine: QAEngine, settings: DiscordSettings, **options: Any) -> None:
        super().__init__(**options)
        self.qa_engine = engine
        self.qa_settings = settings
        self.health: Health | None = None

    async def setup_hook(self) -> None:
        bot: Any = self
        cog = bot.get_cog("qabot")
        if cog is None:
            await bot.add_cog(QACog(bot, self.qa_engine, self.qa_settings))
        else:  # setup_hook runs again when a closed bot object is started again
            cog.resume()
        await sync_commands(bot, self.qa_settings)
        s = self.qa_settings
        if self.health is None and (s.discord_heartbeat_file or s.discord_health_port):
            self.health = Health(bot.is_ready, s.discord_heartbeat_file, s.discord_health_port)
            await self.health.start()

    async def on_ready(self) -> None:
        if self.health is not None:
            self.health.beat()

    async def on_message(self, message: discord.Message, /) -> None:
        return  # no prefix commands; QACog.on_message handles questions

    async def close(self) -> None:
        """Stop: let answers in flight finish (briefly), stop health reporting, close the log and the
        servers' own indexes (the shared engine is closed by whoever made it: `qabot discord` does)."""
        bot: Any = self
        cog = bot.get_cog("qabot")
        if cog is not None:
            await cog.drain()
        if self.health is not None:
            await self.health.stop()
            self.health = None
        await super().close()  # type: ignore[misc]
        if cog is not None:
            cog.shut()


class QABot(_QABotMixin, commands.Bot):
    pass


class ShardedQABot(_QABotMixin, commands.AutoShardedBot):
    pass


async def sync_commands(bot: AnyBot, settings: DiscordSettings) -> None:
    """Register the slash commands with Discord as the sync setting says (never blindly).

    off: leave them; global: every server; guild: one server (development); and, when the
    setting allows it, auto: compare with what Discord has (one cheap GET, permission
    fields included) and sync globally only when they differ.
    """
    mode = str(settings.discord_sync)
    try:
        if mode == "global":
            synced = await bot.tree.sync()
            log.info("Synced %d slash commands globally (may take a while to show everywhere).", len(synced))
        elif mode == "guild" and settings.discord_guild_id is not None:
            guild = discord.Object(id=settings.discord_guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
            log.info("Synced %d slash commands to guild %s.", len(synced), settings.discord_guild_id)
        elif mode == "auto":
            # the raw listing: discord.py's AppCommand drops default_member_permissions from to_dict()
            app_id = bot.application_id or (await bot.application_info()).id
            registered = {command_shape(c) for c in await bot.http.get_global_commands(app_id)}
            if registered != {command_shape(c.to_dict(bot.tree)) for c in bot.tree.get_commands()}:
                synced = await bot.tree.sync()
                log.info("Slash commands changed: synced %d globally.", len(synced))
        else:
            log.info("Slash commands not synced (QABOT_DISCORD_SYNC=off); set it to global once after changes.")
    except discord.HTTPException as err:
        log.error(
            "Could not sync slash commands (%s %s): was the bot invited with the applications.commands scope?",
            err.status,
            err.text,
        )


def command_shape(payload: Any) -> tuple[Any, ...]:
    """What matters of a command for deciding whether to sync: names, options and who may use it where."""
    options = tuple(
        (o.get("name"), int(o.get("type", 0)), bool(o.get("required", False)), o.get("description"))
        for o in payload.get("options") or ()
    )
    permissions = payload.get("default_member_permissions")
    contexts = payload.get("contexts")
    return (
        payload.get("name"),
        int(payload.get("type", 1)),
        payload.get("description"),
        options,
        None if permissions is None else int(permissions),
        tuple(sorted(contexts)) if contexts else None,
        bool(payload.get("dm_permission", True)) if contexts is None else None,
        bool(payload.get("nsfw", False)),
    )


@dataclass
class Shown:
    """An answer the bot showed, for its buttons."""

    question: str
    history: list[str]
    answer: Answer
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    helped: set[int] = field(default_factory=set)  # users who already asked for a human


@dataclass(frozen=True)
class Answered:
    answer: Answer
    engine: QAEngine
    knowledge: str
    latency_ms: float
    sources: dict[str, SourceInfo]


# ---- the commands and listeners -----------------------------------------------------------
class QACog(commands.Cog, name="qabot"):
    """Thin Discord handlers around QAEngine."""

    def __init__(self, bot: AnyBot, engine: QAEngine, settings: DiscordSettings) -> None:
        self.bot = bot
        self.engine = engine
        self.settings = settings
        self.cooldown = Cooldown(settings.discord_cooldown_seconds, settings.discord_cooldown_rate)
        self.gate = Gate(
            settings.discord_max_concurrency, settings.discord_max_queue, settings.discord_max_wait_seconds
        )
        self.conversations = Conversations()
        self.max_question_chars = min(settings.discord_max_question_chars, engine.settings.max_question_chars)
        self.knowledge = Knowledge(engine, settings.discord_guilds_dir)
        self.links = SourceLinks(settings.source_url)
        self.question_log = self._open_log()
        self.shown: OrderedDict[int, Shown] = OrderedDict()
        self._next_key = 0
        self.rebuilding: set[str] = set()
        self.stopping = False
        self.edit_seconds = EDIT_SECONDS

    # ---- lifecycle ----------------------------------------------------------------------
    def _open_log(self) -> QuestionLog | None:
        path = self.settings.discord_log
        if not path:
            return None
        try:
            return QuestionLog(path.expanduser().resolve(), self.settings.discord_log_authors)
        except QabotError as err:  # answering matters more than logging
            log.error("%s Answering without a question log.", err)
            return None

    async def drain(self) -> None:
        """Refuse new questions and wait (at most DRAIN_SECONDS) for those in flight."""
        self.stopping = True
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.gate.admitted and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def resume(self) -> None:
        """Accept questions again after a stop (the same bot object started again)."""
        self.stopping = False
        if self.question_log is None:
            self.question_log = self._open_log()

    def shut(self) -> None:
        if self.question_log is not None:
            self.question_log.close()
            self.question_log = None
        self.knowledge.close()  # the servers' own indexes; the shared engine belongs to whoever made it

    # ---- blocking work (runs in worker threads) --------------------------------------
    @staticmethod
    def _refresh(engine: QAEngine) -> None:
        """Switch to a generation built meanwhile (by /reindex or the CLI); cheap when unchanged."""
        try:
            if engine.reload():
                log.info("Switched to index generation %s in %s.", engine.generation, engine.settings.index_dir)
        except Exception:
            log.warning("Could not open the newest index; answering from the current one.", exc_info=True)

    def _ask_blocking(
        self,
        guild_id: int | None,
        question: str,
        history: Sequence[str],
        on_text: Callable[[str], None] | None = None,
    ) -> Answered:
        engine, name = self.knowledge.engine_for(guild_id)
        if name == SHARED:
            self._refresh(engine)
        started = time.perf_counter()
        answer = engine.ask(question, history=list(history))
        if self.settings.discord_generate and engine.llm is not None:
            # a written answer, checked; the quoted one if the model fails. on_text: its text as it streams
            answer = engine.write(answer, on_text)
        latency_ms = (time.perf_counter() - started) * 1000
        seeds = engine.settings.seeds_dir
        sources = {c.source: self.links.describe(seeds, c.source) for c in answer.citations}
        return Answered(answer, engine, name, latency_ms, sources)

    def _info_blocking(self, guild_id: int | None) -> tuple[IndexInfo | None, str]:
        engine, name = self.knowledge.engine_to_manage(guild_id)
        try:
            if name == SHARED:
                self._refresh(engine)
                return engine.info(), name
            engine.reload()
            return engine.info(), name
        except IndexUnusable:
            if name == SHARED:
                raise
            return None, name

    # ---- shared checks ----------------------------------------------------------------
    async def _resolver(self, guild: discord.Guild | None, raw: str, users: Sequence[Any] = ()) -> Any:
        """A name lookup for the mentions in `raw`; users not in the cache are fetched (a few at most)."""
        known: dict[int, Any] = {u.id: u for u in users}
        me = self.bot.user
        for ident in [int(i) for i in USER_MENTION.findall(raw)][:MAX_FETCHED_NAMES]:
            if ident in known or (me is not None and ident == me.id):
                continue
            found = (guild.get_member(ident) if guild is not None else None) or self.bot.get_user(ident)
            if found is None:
                try:
                    found = await guild.fetch_member(ident) if guild is not None else await self.bot.fetch_user(ident)
                except discord.HTTPException:
                    found = None
            if found is not None:
                known[ident] = found

        def resolve(kind: str, ident: int) -> str | None:
            if kind == "role" and guild is not None:
                role = guild.get_role(ident)
                return role.name if role is not None else None
            if kind == "channel":
                channel = self.bot.get_channel(ident)
                return getattr(channel, "name", None)
            user = known.get(ident)
            return getattr(user, "display_name", None) or getattr(user, "name", None)

        return resolve

    def _validate(self, raw: str, resolve: Any = None) -> tuple[str | None, str | None]:
        """(question, None) when it may be asked, else (None, what to tell the user)."""
        me = self.bot.user
        text = clean_question(raw, resolve, drop_user=me.id if me else None)
        if not text:
            return None, EMPTY_QUESTION
        if len(text) > self.max_question_chars:
            return None, (
                f"Your question is {len(text):,} characters long; the limit here is "
                f"{self.max_question_chars:,}. Please ask something shorter."
            )
        try:
            return self.engine.check_question(text), None
        except QuestionError as err:
            return None, str(err)

    def _channel_allowed(self, channel: Any) -> bool:
        allowed = self.settings.discord_channels
        if not allowed or channel is None or isinstance(channel, discord.DMChannel):
            return True
        candidates = [channel]
        parent = getattr(channel, "parent", None)
        if isinstance(channel, discord.Thread) and parent is not None:
            candidates.append(parent)
        elif isinstance(channel, discord.Thread):
            candidates.append(discord.Object(id=channel.parent_id))
        wanted = {a.lower() for a in allowed}
        return any(str(c.id) in wanted or (getattr(c, "name", None) or "").lower() in wanted for c in candidates)

    def _channels_text(self, guild: discord.Guild | None) -> str:
        names = []
        for entry in self.settings.discord_channels:
            channel = guild.get_channel(int(entry)) if guild is not None and entry.isdigit() else None
            names.append(
                f"#{channel.name}" if channel is not None else (f"<#{entry}>" if entry.isdigit() else f"#{entry}")
            )
        return ", ".join(names)

    def _role_allowed(self, user: Any, guild: discord.Guild | None) -> bool:
        roles = self.settings.discord_roles
        if not roles or guild is None or user.id in set(self.settings.discord_owner_ids):
            return True
        wanted = {r.lower() for r in roles}
        return any(str(role.id) in wanted or role.name.lower() in wanted for role in getattr(user, "roles", ()))

    def _roles_text(self, guild: discord.Guild | None) -> str:
        names = []
        for entry in self.settings.discord_roles:
            role = guild.get_role(int(entry)) if guild is not None and entry.isdigit() else None
            names.append(escape(role.name if role is not None else entry))
        return ", ".join(names)

    def _access_refusal(self, user: Any, guild: discord.Guild | None, channel: Any) -> str | None:
        """Why `user` may not ask here (None: they may)."""
        if guild is None:
            return None if self.settings.discord_dms else NO_DMS
        if not self._channel_allowed(channel):
            return f"I answer questions in {self._channels_text(guild)} only: please ask there."
        if not self._role_allowed(user, guild):
            return NO_ROLE.format(roles=self._roles_text(guild))
        return None

    def _admission(self, user_id: int, quiet_repeats: bool = False) -> tuple[Any, str | None, bool]:
        """(ticket, refusal, quiet): a gate ticket, or what to tell the user (quiet: say nothing).

        `quiet_repeats`: tell a too-quick user once per pause (mentions: no reply storm).
        """
        if self.stopping:
            return None, "I'm restarting: please ask again in a minute.", False
        wait = self.cooldown.remaining(user_id)
        if wait > 0:
            text = f"You're asking quickly: please wait {max(1, math.ceil(wait))} s before your next question."
            return None, text, quiet_repeats and not self.cooldown.first_refusal(user_id)
        ticket = self.gate.admit()
        if ticket is None:
            return None, busy_text(self.gate.expected_wait()), False
        self.cooldown.start(user_id)
        return ticket, None, False

    @staticmethod
    def _error_text(err: BaseException) -> str:
        if isinstance(err, QuestionError):
            return str(err)
        if isinstance(err, IndexUnusable):
            return INDEX_ERROR
        return GENERIC_ERROR

    def _may_manage(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id in set(self.settings.discord_owner_ids):
            return True
        return interaction.guild is not None and interaction.permissions.manage_guild

    # ---- answers and their buttons -----------------------------------------------------
    def _key(self) -> int:
        self._next_key -= 1  # negative: never clashes with a question-log row id
        return self._next_key

    def _remember(
        self,
        done: Answered,
        question: str,
        history: Sequence[str],
        user: Any,
        guild_id: int | None,
        channel_id: int | None,
        via: str,
    ) -> int:
        key = 0
        if self.question_log is not None:
            try:
                key = self.question_log.record(
                    question=question,
                    answer=done.answer,
                    latency_ms=done.latency_ms,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    via=via,
                    history=history,
                    knowledge=done.knowledge,
                    author_id=user.id,
                    author_name=str(user),
                )
            except Exception:
                log.warning("Could not write to the question log.", exc_info=True)
        key = key or self._key()
        self.shown[key] = Shown(question, list(history), done.answer, done.sources)
        while len(self.shown) > SHOWN_ANSWERS:
            self.shown.popitem(last=False)
        return key

    def _helper_role(self, guild: discord.Guild | None) -> discord.Role | None:
        wanted = self.settings.discord_helper_role
        if not wanted or guild is None:
            return None
        if wanted.isdigit():
            return guild.get_role(int(wanted))
        return discord.utils.find(lambda r: r.name.lower() == wanted.lower(), guild.roles)

    def _replies(self, done: Answered, question: str, key: int, guild: discord.Guild | None) -> list[Reply]:
        answer = done.answer

        def describe(c: Citation) -> SourceInfo:
            return done.sources.get(c.source) or SourceInfo(c.source, None)

        replies = answer_replies(answer, question, answer_footer(answer), describe)
        more = len(answer.citations) - len(marked_numbers(answer)) if not answer.abstained else 0
        view = buttons.answer_view(key, more=more, helper=self._helper_role(guild) is not None)
        last = replies[-1]
        replies[-1] = Reply(content=last.content, embeds=last.embeds, view=view)
        return replies

    def _shown(self, key: int) -> Shown | None:
        found = self.shown.get(key)
        if found is not None or self.question_log is None or key <= 0:
            return found
        row = self.question_log.get(key)
        if row is None:
            return None
        import json

        citations = tuple(
            Citation(c["source"], c["start"], c["end"], c["text"], c.get("score", 0.0))
            for c in json.loads(row["citations"])
        )
        answer = Answer(row["question"], row["answer"], citations)
        return Shown(row["question"], json.loads(row["history"] or "[]"), answer)

    # ---- /ask -------------------------------------------------------------------------
    @app_commands.command(name="ask", description="Ask a question about the documents")
    @app_commands.describe(question="What you want to know")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        await self._answer_interaction(interaction, question, [], "slash")

    async def _answer_interaction(
        self, interaction: discord.Interaction, raw: str, history: list[str], via: str
    ) -> None:
        refusal = self._access_refusal(interaction.user, interaction.guild, interaction.channel)
        if refusal is not None:
            await self._tell(interaction, refusal)
            return
        text, refusal = self._validate(raw, await self._resolver(interaction.guild, raw))
        if text is None:
            await self._tell(interaction, refusal or EMPTY_QUESTION)
            return
        ticket, refusal, _quiet = self._admission(interaction.user.id)
        if ticket is None:
            await self._tell(interaction, refusal or BUSY)
            return
        sent: list[Any] = []
        guild_id = interaction.guild.id if interaction.guild else None
        try:
            await interaction.response.defer(thinking=True)
            streamed = False

            async def show(written: str) -> None:
                await interaction.edit_original_response(content=written, allowed_mentions=NO_MENTIONS)

            async with ticket:
                if self.settings.discord_generate:
                    done, streamed = await self._ask_streaming(show, guild_id, text, history)
                else:
                    done = await asyncio.to_thread(self._ask_blocking, guild_id, text, history)
            key = self._remember(done, text, history, interaction.user, guild_id, interaction.channel_id, via)
            for reply in self._replies(done, text, key, interaction.guild):
                if streamed and not sent:  # the streamed message becomes the checked answer
                    kwargs = {"content": None, **_message_kwargs(reply)}
                    sent.append(await interaction.edit_original_response(**kwargs, allowed_mentions=NO_MENTIONS))
                    continue
                sent.append(
                    await interaction.followup.send(**_message_kwargs(reply), allowed_mentions=NO_MENTIONS, wait=True)
                )
            keys = [m.id for m in sent]
            if isinstance(interaction.channel, discord.Thread):
                keys.append(interaction.channel.id)
            self.conversations.record(keys, history, text)
            if sent and not done.answer.abstained and self.settings.discord_threads and not history:
                await self._open_thread(sent[0], interaction.channel, text)
        except Exception as err:  # noqa: BLE001 - every failure ends in a short message to the user
            self._log_failure(f"/{via}", err)
            await self._fail_interaction(interaction, self._error_text(err), placeholder=not sent)
        finally:
            ticket.close()

    async def _ask_streaming(
        self, show: Callable[[str], Awaitable[None]], guild_id: int | None, question: str, history: list[str]
    ) -> tuple[Answered, bool]:
        """Ask with the writer, showing the model's text with `show` (a message edit) as it arrives.

        The model is read in a worker thread, which hands each piece to the event loop and waits
        until it has been handled (the gateway never waits on the model). The message is edited at
        most once per `edit_seconds`. Returns the answer and whether the message was edited.
        """
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        handled, stopped = threading.Event(), threading.Event()

        def on_text(piece: str) -> None:  # in the worker thread
            if stopped.is_set():  # nobody is showing the text any more (the answer was cancelled)
                return
            handled.clear()
            loop.call_soon_threadsafe(pieces.put_nowait, piece)
            handled.wait(STREAM_ACK_SECONDS)

        work = asyncio.ensure_future(asyncio.to_thread(self._ask_blocking, guild_id, question, history, on_text))
        work.add_done_callback(lambda _: pieces.put_nowait(None))
        pacer = EditPacer(self.edit_seconds)
        written, edited = "", False
        try:
            while (piece := await pieces.get()) is not None:
                written += piece
                if written.strip() and pacer.due():
                    try:
                        await show(notice(escape(" ".join(written.split())) + STREAMING_MARK))
                        edited = True
                    except discord.HTTPException as err:
                        log.info("Could not show the answer being written: %s", err)
                handled.set()
        finally:
            stopped.set()
            handled.set()
        return await work, edited

    # ---- buttons and the follow-up modal ----------------------------------------------
    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type not in (discord.InteractionType.component, discord.InteractionType.modal_submit):
            return
        data: dict[str, Any] = dict(interaction.data or {})  # type: ignore[arg-type]
        parsed = buttons.parse_custom_id(data.get("custom_id"))
        if parsed is None:
            return
        action, key = parsed
        try:
            if interaction.type == discord.InteractionType.modal_submit and action == buttons.MODAL:
                await self._follow_up_submitted(interaction, key, _modal_value(data, buttons.MODAL_FIELD))
            elif action == buttons.FOLLOW_UP:
                await self._open_follow_up(interaction, key)
            elif action in (buttons.UP, buttons.DOWN):
                await self._rate(interaction, key, +1 if action == buttons.UP else -1)
            elif action == buttons.MORE:
                await self._more_sources(interaction, key)
            elif action == buttons.HELP:
                await self._call_helper(interaction, key)
        except Exception as err:  # noqa: BLE001
            self._log_failure(f"the {action} button", err)
            await self._fail_interaction(interaction, GENERIC_ERROR, placeholder=False)

    async def _open_follow_up(self, interaction: discord.Interaction, key: int) -> None:
        shown = self._shown(key)
        if shown is None:
            await self._tell(interaction, ANSWER_GONE)
            return
        modal = buttons.FollowUpModal(key, shown.question, self.max_question_chars)
        await interaction.response.send_modal(modal)

    async def _follow_up_submitted(self, interaction: discord.Interaction, key: int, text: str) -> None:
        shown = self._shown(key)
        history = [*shown.history, shown.question] if shown is not None else []
        await self._answer_interaction(interaction, text, history, "follow-up")

    async def _rate(self, interaction: discord.Interaction, key: int, value: int) -> None:
        if self.question_log is not None and key > 0:
            self.question_log.rate(key, value)
        log.info("Feedback %+d on answer %s.", value, key)
        await self._tell(interaction, THANKS if value > 0 else THANKS + " An admin can review answers marked 👎.")

    async def _more_sources(self, interaction: discord.Interaction, key: int) -> None:
        shown = self._shown(key)
        if shown is None:
            await self._tell(interaction, ANSWER_GONE)
            return
        sources = shown.sources

        def describe(c: Citation) -> SourceInfo:
            return sources.get(c.source) or SourceInfo(c.source, None)

        embed = more_sources_embed(shown.answer, describe)
        if embed is None:
            await self._tell(interaction, "There are no more sources for this answer.")
            return
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _call_helper(self, interaction: discord.Interaction, key: int) -> None:
        role = self._helper_role(interaction.guild)
        if role is None:
            await self._tell(interaction, "No helper role is set up here.")
            return
        shown = self._shown(key)
        if shown is not None and interaction.user.id in shown.helped:
            await self._tell(interaction, "The helpers have been asked already: someone will answer here.")
            return
        if shown is not None:
            shown.helped.add(interaction.user.id)
        if self.question_log is not None and key > 0:
            self.question_log.help_requested(key)
        question = f": “{escape(shown.question)}”" if shown is not None else ""
        who = escape(getattr(interaction.user, "display_name", None) or interaction.user.name)
        await interaction.response.send_message(
            notice(f"{role.mention} {who} still needs help with this question{question}"),
            # the only mention the bot ever makes: this one role, nobody else
            allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=[role], replied_user=False),
        )

    # ---- /sources ---------------------------------------------------------------------
    @app_commands.command(name="sources", description="List the indexed documents, the model and the build time")
    async def sources(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            guild_id = interaction.guild.id if interaction.guild else None
            info, name = await asyncio.to_thread(self._info_blocking, guild_id)
            if info is None:
                await interaction.followup.send(
                    notice("This server has its own documents folder, but its index isn't built yet: run /reindex."),
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
                return
            title = "This server's documents" if name != SHARED else "Indexed documents"
            await interaction.followup.send(
                embed=sources_embed(info, title), ephemeral=True, allowed_mentions=NO_MENTIONS, wait=True
            )
        except Exception as err:  # noqa: BLE001
            self._log_failure("/sources", err)
            await self._fail_interaction(interaction, self._error_text(err), placeholder=False)

    # ---- /reindex and /add ------------------------------------------------------------
    @app_commands.command(name="reindex", description="Rebuild the index from the documents (Manage Server only)")
    @app_commands.describe(full="Embed every document again instead of reusing cached vectors")
    @app_commands.default_permissions(manage_guild=True)
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        if not self._may_manage(interaction):
            await self._tell(interaction, NOT_ALLOWED)
            return
        guild_id = interaction.guild.id if interaction.guild else None
        engine, name = self.knowledge.engine_to_manage(guild_id)
        await self._rebuild(interaction, engine, name, full, "")

    @app_commands.command(name="add", description="Add a document to this server's knowledge base (Manage Server only)")
    @app_commands.describe(document="A .txt, .md or .html file (or another format qabot reads)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def add(self, interaction: discord.Interaction, document: discord.Attachment) -> None:
        if not self._may_manage(interaction) or interaction.guild is None:
            await self._tell(interaction, NOT_ALLOWED)
            return
        if self.knowledge.guilds_dir is None:
            await self._tell(interaction, NO_GUILDS_DIR)
            return
        limit = self.settings.discord_add_max_bytes
        try:
            name = upload_name(document.filename, document.size, limit)
        except SourceError as err:
            await self._tell(interaction, f"Not added: {escape(str(err))}")
            return
        guild_id = interaction.guild.id
        if str(guild_id) in self.rebuilding:
            await self._tell(interaction, "A rebuild is already running: add the file again when it is done.")
            return
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            data = await document.read()
            if len(data) > limit:
                raise SourceError(f"The file is {len(data):,} bytes; the limit is {limit:,}.")
            path = await asyncio.to_thread(self.knowledge.save_upload, guild_id, name, data)
        except (SourceError, discord.HTTPException) as err:
            log.warning("Upload refused or failed: %s", err)
            await self._fail_interaction(interaction, f"Not added: {escape(str(err))}", placeholder=False)
            return
        log.info(
            "Saved %s for guild %s (%d bytes) at the request of user %s.",
            path,
            guild_id,
            len(data),
            interaction.user.id,
        )
        await self._rebuild(
            interaction, self.knowledge.own_engine(guild_id), str(guild_id), False, f"Saved {code_name(name)}. "
        )

    async def _rebuild(
        self, interaction: discord.Interaction, engine: QAEngine, name: str, full: bool, prefix: str
    ) -> None:
        if name in self.rebuilding:
            await self._tell(interaction, "A rebuild is already running: its result will show up shortly.")
            return
        self.rebuilding.add(name)
        try:
            if not interaction.response.is_done():
                await interaction.response.defer(ephemeral=True, thinking=True)
            log.info("Rebuild of %s (full=%s) requested by user %s.", name, full, interaction.user.id)
            report = await asyncio.to_thread(engine.build, full=full)
            log.info("Rebuilt %s: generation %s.", name, report.generation)
            await interaction.followup.send(
                notice(prefix + rebuild_summary(report, name != SHARED)), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        except QabotError as err:
            log.warning("Rebuild failed: %s", err)
            await self._fail_interaction(
                interaction,
                f"{prefix}The rebuild failed; the previous index is still in use. {escape(str(err))}",
                placeholder=False,
            )
        except Exception as err:  # noqa: BLE001
            self._log_failure("/reindex", err)
            await self._fail_interaction(
                interaction,
                f"{prefix}The rebuild failed unexpectedly; the previous index is still in use "
                "(details in the bot's log).",
                placeholder=False,
            )
        finally:
            self.rebuilding.discard(name)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self._log_failure("a slash command", error)
        await self._fail_interaction(interaction, GENERIC_ERROR, placeholder=False)

    # ---- mentions, replies, threads, direct messages ----------------------------------
    def _history_for(self, message: discord.Message, me_id: int) -> tuple[list[str] | None, bool]:
        """(earlier questions, whether the message replies to the bot)."""
        ref = message.reference
        if ref is not None and ref.message_id is not None:
            found = self.conversations.history(ref.message_id)
            if found is not None:
                return found, True
            resolved = ref.resolved
            if isinstance(resolved, discord.Message) and resolved.author.id == me_id:
                earlier = question_from_embeds(resolved.embeds)
                return ([earlier] if earlier else None), True
        channel = message.channel
        if isinstance(channel, discord.Thread):
            found = self.conversations.history(channel.id)
            if found is not None:
                return found, False
            if channel.owner_id == me_id and channel.name:
                return [channel.name], False
        return None, False

    def _in_own_thread(self, channel: Any, me_id: int) -> bool:
        return isinstance(channel, discord.Thread) and (channel.id in self.conversations or channel.owner_id == me_id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        history, replies_to_me = self._history_for(message, me.id)
        direct = message.guild is None
        mentioned = me.id in message.raw_mentions
        in_thread = self._in_own_thread(message.channel, me.id) and bool(self.settings.discord_message_content)
        if not (direct or mentioned or replies_to_me or in_thread):
            return
        if not direct and not self._channel_allowed(message.channel):
            return  # not one of the bot's channels: stay out of the conversation
        content = message.content
        if not content.strip():
            if direct or mentioned:
                await self._reply_text(message, EMPTY_QUESTION)
            elif replies_to_me:
                # Discord withheld the text (a reply to an /ask answer without a mention)
                await self._reply_text(message, FOLLOW_UP_HINT)
            return
        if not (direct or mentioned or replies_to_me) and not looks_like_question(content):
            return  # chatter in the bot's thread ("thanks!", "lol"): not a question
        await self._answer_message(message, content, history or [])

    async def _answer_message(self, message: discord.Message, question: str, history: list[str]) -> None:
        refusal = self._access_refusal(message.author, message.guild, message.channel)
        if refusal is not None:
            await self._reply_text(message, refusal)
            return
        text, refusal = self._validate(question, await self._resolver(message.guild, question, message.mentions))
        if text is None:
            await self._reply_text(message, refusal or EMPTY_QUESTION)
            return
        ticket, refusal, quiet = self._admission(message.author.id, quiet_repeats=True)
        if ticket is None:
            if not quiet:
                await self._reply_text(message, refusal or BUSY)
            return
        guild_id = message.guild.id if message.guild else None
        try:
            streaming: list[discord.Message] = []  # the reply the written answer streams into

            async def show(written: str) -> None:
                if streaming:
                    await streaming[0].edit(content=written, allowed_mentions=NO_MENTIONS)
                else:
                    reference = message.to_reference(fail_if_not_exists=False)
                    streaming.append(
                        await message.channel.send(
                            written, reference=reference, mention_author=False, allowed_mentions=NO_MENTIONS
                        )
                    )

            async with ticket:
                if self.settings.discord_generate:
                    done, _ = await self._ask_streaming(show, guild_id, text, history)
                else:
                    done = await asyncio.to_thread(self._ask_blocking, guild_id, text, history)
            via = "dm" if guild_id is None else ("reply" if history else "mention")
            key = self._remember(done, text, history, message.author, guild_id, message.channel.id, via)
            replies = self._replies(done, text, key, message.guild)
            sent = await self._send_replies(message, replies, streaming[0] if streaming else None)
            keys = [m.id for m in sent]
            if isinstance(message.channel, discord.Thread):
                keys.append(message.channel.id)
            self.conversations.record(keys, history, text)
        except Exception as err:  # noqa: BLE001
            self._log_failure("a mention", err)
            if streaming:  # never leave a half-written answer behind
                with contextlib.suppress(discord.HTTPException):
                    await streaming[0].delete()
            await self._reply_text(message, self._error_text(err))
        finally:
            ticket.close()

    async def _send_replies(
        self, message: discord.Message, replies: list[Reply], streamed: discord.Message | None = None
    ) -> list[discord.Message]:
        """Send the answer as replies to `message`; the first one into `streamed` (an edit) when given."""
        sent: list[discord.Message] = []
        for i, reply in enumerate(replies):
            kwargs = _message_kwargs(reply)
            if i == 0 and streamed is not None:
                sent.append(await streamed.edit(content=None, **kwargs, allowed_mentions=NO_MENTIONS))
                continue
            if i == 0:
                kwargs["reference"] = message.to_reference(fail_if_not_exists=False)
                kwargs["mention_author"] = False
            sent.append(await message.channel.send(**kwargs, allowed_mentions=NO_MENTIONS))
        return sent

    # ---- threads ----------------------------------------------------------------------
    async def _open_thread(self, message: Any, channel: Any, question: str) -> None:
        """A public thread on the answer, where follow-ups continue the conversation."""
        if not isinstance(channel, discord.TextChannel) or self.bot.user is None:
            return
        try:  # through the channel: interaction follow-ups carry no guild of their own
            thread = await channel.create_thread(
                name=thread_name(question), message=message, auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except (discord.HTTPException, ValueError) as err:
            log.info("Could not open a thread for follow-ups: %s", err)
            return
        self.conversations.record([thread.id], (), question)
        how = (
            "just ask them here"
            if self.settings.discord_message_content
            else f"press **Follow up** under an answer, or mention me ({self.bot.user.mention}) in your message"
        )
        try:
            await thread.send(f"Follow-up questions go here: {how}.", allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as err:
            log.info("Could not post in the new thread: %s", err)

    # ---- telling the user -------------------------------------------------------------
    def _log_failure(self, where: str, err: BaseException) -> None:
        if isinstance(err, QuestionError):
            log.info("Question refused in %s: %s", where, err)
        elif isinstance(err, QabotError):
            log.warning("Could not answer in %s: %s", where, err)
        else:
            log.error("Failed to handle %s", where, exc_info=err)

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        """A short ephemeral message, as the response or as a follow-up."""
        if interaction.response.is_done():
            await interaction.followup.send(notice(text), ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(notice(text), ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _fail_interaction(self, interaction: discord.Interaction, text: str, placeholder: bool) -> None:
        """Tell the user ephemerally; `placeholder`: first finish and remove our public 'thinking…' message.

        While a deferred placeholder is pending, Discord turns the next follow-up into that
        public message, whatever its ephemeral flag: so the notice is sent only once the
        placeholder has been finished, never in its place.
        """
        try:
            if placeholder and interaction.response.is_done():
                finished = False
                for _ in range(2):  # one retry: most failures are momentary
                    try:
                        await interaction.edit_original_response(
                            content="…", embeds=[], view=None, allowed_mentions=NO_MENTIONS
                        )
                        finished = True
                        break
                    except discord.HTTPException as err:
                        log.info("Could not finish the placeholder: %s", err)
                try:
                    await interaction.delete_original_response()
                    removed = True
                except discord.HTTPException as err:
                    log.info("Could not remove the placeholder: %s", err)
                    removed = False
                if not (finished or removed):
                    log.warning("Not telling the user about the failure: it would show publicly.")
                    return
            await self._tell(interaction, text)
        except discord.HTTPException as err:
            log.warning("Could not tell the user about the failure: %s", err)

    async def _reply_text(self, message: discord.Message, text: str) -> None:
        try:
            await message.channel.send(
                notice(text),
                reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as err:
            log.warning("Could not reply in channel %s: %s", message.channel.id, err)


def code_name(name: str) -> str:
    return "`" + name.replace("`", "ˋ") + "`"


def rebuild_summary(report: BuildReport, own: bool) -> str:
    which = "This server's index" if own else "Index"
    if report.unchanged:
        text = (
            f"{which} already up to date: generation {report.generation}, {plural(report.documents, 'document')} "
            "(nothing changed since the last build; use full:True to rebuild anyway)."
        )
    else:
        text = (
            f"{which} rebuilt: generation {report.generation}, {plural(report.documents, 'document')}, "
            f"{plural(report.chunks, 'chunk')} "
            f"({report.embedded:,} embedded, {report.reused:,} reused) in {report.seconds:.1f} s. "
            "New questions use it now."
        )
    if report.skipped:
        skipped = "; ".join(f"{escape(s.source)} ({escape(s.reason)})" for s in report.skipped)
        text += f" Skipped {plural(len(report.skipped), 'file')}: {skipped}"
    return text


def _modal_value(data: dict[str, Any], custom_id: str) -> str:
    """The value of the text input `custom_id` in a modal submission (rows or labels)."""
    stack: list[Any] = list(data.get("components") or [])
    while stack:
        item = stack.pop(0)
        if not isinstance(item, dict):
            continue
        if item.get("custom_id") == custom_id and "value" in item:
            return str(item.get("value") or "")
        stack.extend(item.get("components") or [])
        if isinstance(item.get("component"), dict):
            stack.append(item["component"])
    return ""


def _message_kwargs(reply: Reply) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"embeds": reply.embeds}
    if reply.content:
        kwargs["content"] = reply.content
    if reply.view is not None:
        kwargs["view"] = reply.view
    return kwargs
