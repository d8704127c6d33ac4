"""The Discord bot: `create_bot(engine, settings)` builds it (without starting it).

    /ask question:<text>    defer, retrieve in a worker thread, answer with an embed
    /sources                what is indexed (documents, chunks, model, build time)
    /reindex [full]         rebuild and switch to the new index (Manage Server or owner ids)
    @bot <question>         the same answer as a reply, in channels and direct messages
    reply / thread          a follow-up: the earlier questions are passed to the engine

Only the non-privileged intents are requested: Discord delivers the content of messages
that mention the bot or reply to it, and of direct messages, without the message-content
intent. Nothing the bot sends can ping anyone (`allowed_mentions` none everywhere), and
text from documents or users is escaped (see format.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from ..engine import QAEngine
from ..errors import ConfigError, IndexUnusable, QabotError, QuestionError
from ..records import Answer, IndexInfo
from ..settings import Settings
from .conversation import Conversations
from .format import Reply, answer_footer, answer_replies, notice, question_from_embeds, sources_embed, thread_name
from .limits import Cooldown, Gate

log = logging.getLogger("qabot.bot")

AnyBot: TypeAlias = "commands.Bot | commands.AutoShardedBot"

NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # one day

GENERIC_ERROR = "Sorry, something went wrong while answering. Please try again in a moment."
INDEX_ERROR = "The document index isn't available right now. An admin can run /reindex (or `qabot index build`)."
BUSY = "I'm answering a lot of questions right now. Please try again in a minute."
NOT_ALLOWED = "Only members with the Manage Server permission (or the bot's owners) can rebuild the index."
EMPTY_QUESTION = "Ask me a question about the documents, for example: how many missiles were launched?"


# ---- construction ---------------------------------------------------------------------
def bot_intents(settings: Settings) -> discord.Intents:
    """The smallest set the bot needs; message_content only when explicitly enabled."""
    intents = discord.Intents.none()
    intents.guilds = True  # channels, threads and permissions
    intents.guild_messages = True  # mentions and replies in servers
    intents.dm_messages = True  # direct messages
    intents.message_content = bool(settings.discord_message_content)
    return intents


def create_bot(engine: QAEngine, settings: Settings) -> AnyBot:
    """A ready-to-start bot answering from `engine`. Nothing connects until `bot.start()`."""
    if settings.discord_sync == "guild" and settings.discord_guild_id is None:
        raise ConfigError("QABOT_DISCORD_SYNC=guild needs QABOT_DISCORD_GUILD_ID (the id of your test server).")
    # qabot never joins voice: skip discord.py's start-up warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    options: dict[str, Any] = {
        # Never used for text commands (on_message below skips them); when_mentioned
        # keeps discord.py from warning about the message-content intent we don't need.
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": bot_intents(settings),
        "allowed_mentions": NO_MENTIONS,
        "member_cache_flags": discord.MemberCacheFlags.none(),
        "chunk_guilds_at_startup": False,
        "max_messages": None,
    }
    if settings.discord_sharded:
        return ShardedQABot(engine, settings, shard_count=settings.discord_shard_count, **options)
    return QABot(engine, settings, **options)


async def _setup(bot: AnyBot, engine: QAEngine, settings: Settings) -> None:
    if bot.get_cog("qabot") is None:  # setup_hook runs again when a bot object is restarted
        await bot.add_cog(QACog(bot, engine, settings))
    await sync_commands(bot, settings)


class _QABotMixin:
    """What both bot classes add to discord.py's: the engine, the settings, and the cog at setup."""

    def __init__(self, engine: QAEngine, settings: Settings, **options: Any) -> None:
        super().__init__(**options)
        self.qa_engine = engine
        self.qa_settings = settings

    async def setup_hook(self) -> None:
        await _setup(self, self.qa_engine, self.qa_settings)  # type: ignore[arg-type]

    async def on_message(self, message: discord.Message, /) -> None:
        return  # no prefix commands; QACog.on_message handles questions


class QABot(_QABotMixin, commands.Bot):
    pass


class ShardedQABot(_QABotMixin, commands.AutoShardedBot):
    pass


async def sync_commands(bot: AnyBot, settings: Settings) -> None:
    """Register the slash commands with Discord as the sync setting says (never blindly).

    off: leave them; global: every server; guild: one server (development); and, when the
    setting allows it, auto: compare with what Discord has (one cheap GET) and sync globally
    only when they differ.
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
            registered = {_shape(c.to_dict()) for c in await bot.tree.fetch_commands()}
            if registered != {_shape(c.to_dict(bot.tree)) for c in bot.tree.get_commands()}:
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


def _shape(payload: Any) -> tuple[Any, ...]:
    """What matters of a command for deciding whether to sync."""
    options = tuple(
        (o.get("name"), int(o.get("type", 0)), bool(o.get("required", False)), o.get("description"))
        for o in payload.get("options") or ()
    )
    return (payload.get("name"), int(payload.get("type", 1)), payload.get("description"), options)


# ---- the commands and listeners -----------------------------------------------------------
class QACog(commands.Cog, name="qabot"):
    """Thin Discord handlers around QAEngine."""

    def __init__(self, bot: AnyBot, engine: QAEngine, settings: Settings) -> None:
        self.bot = bot
        self.engine = engine
        self.settings = settings
        self.cooldown = Cooldown(settings.discord_cooldown_seconds, settings.discord_cooldown_rate)
        self.gate = Gate(settings.discord_max_concurrency, settings.discord_max_queue)
        self.conversations = Conversations()
        self.max_question_chars = min(settings.discord_max_question_chars, engine.settings.max_question_chars)
        self.rebuilding = False

    # ---- blocking work (runs in worker threads) --------------------------------------
    def _refresh(self) -> None:
        """Switch to a generation built meanwhile (by /reindex or the CLI); cheap when unchanged."""
        try:
            if self.engine.reload():
                log.info("Switched to index generation %s.", self.engine.generation)
        except Exception:
            log.warning("Could not open the newest index; answering from the current one.", exc_info=True)

    def _ask_blocking(self, question: str, history: Sequence[str]) -> tuple[Answer, str]:
        self._refresh()
        answer = self.engine.ask(question, history=list(history))
        return answer, self.engine.generation

    def _info_blocking(self) -> IndexInfo:
        self._refresh()
        return self.engine.info()

    # ---- shared checks ----------------------------------------------------------------
    def _validate(self, raw: str) -> tuple[str | None, str | None]:
        """(question, None) when it may be asked, else (None, what to tell the user)."""
        text = " ".join(raw.split())
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

    def _cooldown_text(self, wait: float) -> str:
        seconds = max(1, math.ceil(wait))
        return f"You're asking quickly: please wait {seconds} s before your next question."

    @staticmethod
    def _error_text(err: BaseException) -> str:
        if isinstance(err, QuestionError):
            return str(err)
        if isinstance(err, IndexUnusable):
            return INDEX_ERROR
        return GENERIC_ERROR

    # ---- /ask -------------------------------------------------------------------------
    @app_commands.command(name="ask", description="Ask a question about the documents")
    @app_commands.describe(question="What you want to know")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        user_id = interaction.user.id
        text, refusal = self._validate(question)
        if text is None:
            await self._tell(interaction, refusal or EMPTY_QUESTION)
            return
        wait = self.cooldown.remaining(user_id)
        if wait > 0:
            await self._tell(interaction, self._cooldown_text(wait))
            return
        ticket = self.gate.admit()
        if ticket is None:
            await self._tell(interaction, BUSY)
            return
        self.cooldown.start(user_id)
        sent: list[discord.Message] = []
        try:
            await interaction.response.defer(thinking=True)
            async with ticket:
                answer, generation = await asyncio.to_thread(self._ask_blocking, text, ())
            for reply in answer_replies(answer, text, answer_footer(answer, generation)):
                sent.append(
                    await interaction.followup.send(**_message_kwargs(reply), allowed_mentions=NO_MENTIONS, wait=True)
                )
            self.conversations.record([m.id for m in sent], (), text)
            if sent and not answer.abstained and self.settings.discord_threads:
                await self._open_thread(sent[0], interaction.channel, text)
        except Exception as err:  # noqa: BLE001 - every failure ends in a short message to the user
            self._log_failure("/ask", err)
            await self._fail_interaction(interaction, self._error_text(err), placeholder=not sent)
        finally:
            ticket.close()

    # ---- /sources ---------------------------------------------------------------------
    @app_commands.command(name="sources", description="List the indexed documents, the model and the build time")
    async def sources(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            info = await asyncio.to_thread(self._info_blocking)
            await interaction.followup.send(
                embed=sources_embed(info), ephemeral=True, allowed_mentions=NO_MENTIONS, wait=True
            )
        except Exception as err:  # noqa: BLE001
            self._log_failure("/sources", err)
            await self._fail_interaction(interaction, self._error_text(err), placeholder=False)

    # ---- /reindex ---------------------------------------------------------------------
    def _may_reindex(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id in set(self.settings.discord_owner_ids):
            return True
        return interaction.guild is not None and interaction.permissions.manage_guild

    @app_commands.command(name="reindex", description="Rebuild the index from the documents (Manage Server only)")
    @app_commands.describe(full="Embed every document again instead of reusing cached vectors")
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        if not self._may_reindex(interaction):
            await self._tell(interaction, NOT_ALLOWED)
            return
        if self.rebuilding:
            await self._tell(interaction, "A rebuild is already running: its result will show up shortly.")
            return
        self.rebuilding = True
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            log.info("Rebuild (full=%s) requested by user %s.", full, interaction.user.id)
            report = await asyncio.to_thread(self.engine.build, full=full)
            if report.unchanged:
                summary = (
                    f"Index already up to date: generation {report.generation}, {report.documents:,} documents "
                    "(nothing changed since the last build; use full:True to rebuild anyway)."
                )
            else:
                summary = (
                    f"Index rebuilt: generation {report.generation}, {report.documents:,} documents, "
                    f"{report.chunks:,} chunks ({report.embedded:,} embedded, {report.reused:,} reused) "
                    f"in {report.seconds:.1f} s. New questions use it now."
                )
            if report.skipped:
                skipped = "; ".join(f"{s.source} ({s.reason})" for s in report.skipped)
                summary += f" Skipped {len(report.skipped)} file(s): {skipped}"
            log.info("Rebuilt the index: generation %s.", report.generation)
            await interaction.followup.send(notice(summary), ephemeral=True, allowed_mentions=NO_MENTIONS)
        except QabotError as err:
            log.warning("Rebuild failed: %s", err)
            await self._fail_interaction(
                interaction, f"The rebuild failed; the previous index is still in use. {err}", placeholder=False
            )
        except Exception as err:  # noqa: BLE001
            self._log_failure("/reindex", err)
            await self._fail_interaction(
                interaction,
                "The rebuild failed unexpectedly; the previous index is still in use (details in the bot's log).",
                placeholder=False,
            )
        finally:
            self.rebuilding = False

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
        question = re.sub(rf"<@!?{me.id}>", " ", message.content)
        if not question.strip():
            if direct or mentioned:
                await self._reply_text(message, EMPTY_QUESTION)
            return  # a reply without content: Discord withheld it (no ping), nothing to answer
        await self._answer_message(message, question, history or [])

    async def _answer_message(self, message: discord.Message, question: str, history: list[str]) -> None:
        user_id = message.author.id
        text, refusal = self._validate(question)
        if text is None:
            await self._reply_text(message, refusal or EMPTY_QUESTION)
            return
        wait = self.cooldown.remaining(user_id)
        if wait > 0:
            if self.cooldown.first_refusal(user_id):
                await self._reply_text(message, self._cooldown_text(wait))
            return
        ticket = self.gate.admit()
        if ticket is None:
            await self._reply_text(message, BUSY)
            return
        self.cooldown.start(user_id)
        try:
            async with ticket:
                answer, generation = await asyncio.to_thread(self._ask_blocking, text, history)
            sent = await self._send_replies(message, answer_replies(answer, text, answer_footer(answer, generation)))
            keys = [m.id for m in sent]
            if isinstance(message.channel, discord.Thread):
                keys.append(message.channel.id)
            self.conversations.record(keys, history, text)
        except Exception as err:  # noqa: BLE001
            self._log_failure("a mention", err)
            await self._reply_text(message, self._error_text(err))
        finally:
            ticket.close()

    async def _send_replies(self, message: discord.Message, replies: list[Reply]) -> list[discord.Message]:
        sent: list[discord.Message] = []
        for i, reply in enumerate(replies):
            kwargs = _message_kwargs(reply)
            if i == 0:
                kwargs["reference"] = message.to_reference(fail_if_not_exists=False)
                kwargs["mention_author"] = False
            sent.append(await message.channel.send(**kwargs, allowed_mentions=NO_MENTIONS))
        return sent

    # ---- threads ----------------------------------------------------------------------
    async def _open_thread(self, message: discord.Message, channel: Any, question: str) -> None:
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
            "just type them here"
            if self.settings.discord_message_content
            else f"mention me ({self.bot.user.mention}) or reply to one of my answers"
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
        """Tell the user ephemerally; `placeholder`: first remove our public 'thinking…' message."""
        try:
            if placeholder and interaction.response.is_done():
                try:  # finish the public placeholder, then remove it
                    await interaction.edit_original_response(content="…", embeds=[], allowed_mentions=NO_MENTIONS)
                    await interaction.delete_original_response()
                except discord.HTTPException as err:
                    log.info("Could not remove the placeholder: %s", err)
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


def _message_kwargs(reply: Reply) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"embeds": reply.embeds}
    if reply.content:
        kwargs["content"] = reply.content
    return kwargs
