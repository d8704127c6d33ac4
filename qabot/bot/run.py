"""`qabot discord`: read the token, open the engine, run the bot until stopped.

    run_bot(Settings()) -> exit code       # the bot's own settings come from DiscordSettings()

Every expected failure (no token, a token Discord rejects, an intent not enabled in the
developer portal, no network, no usable index, an invalid setting) is one line on stderr
and exit code 1. The token never appears in output or logs. SIGTERM (systemd, docker stop)
and Ctrl-C stop the bot cleanly: answers in flight finish, the question log and the index
are closed, exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord

from ..engine import QAEngine
from ..errors import QabotError
from ..settings import Settings
from .client import create_bot, discord_settings
from .settings import DiscordSettings

log = logging.getLogger("qabot.bot")

NO_TOKEN = (
    "qabot discord: no bot token: set DISCORD_TOKEN (or QABOT_DISCORD_TOKEN) in the environment "
    "or in .env (see docs/discord.md)."
)
BAD_TOKEN = (
    "qabot discord: Discord rejected the bot token: copy a fresh one from the developer portal "
    "(your application, Bot, Reset Token) into DISCORD_TOKEN."
)
INTENTS = (
    "qabot discord: Discord refused the message-content intent: enable it in the developer portal "
    "(Bot, Privileged Gateway Intents) or set QABOT_DISCORD_MESSAGE_CONTENT=false."
)


class _Redact(logging.Filter):
    """Replace the token wherever it might show up in a log record."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret and self.secret in message:
            record.msg = message.replace(self.secret, "[token]")
            record.args = None
        return True


def _error(line: str, token: str) -> int:
    print(line.replace(token, "[token]") if token else line, file=sys.stderr)
    return 1


def run_bot(settings: Settings, bot_settings: DiscordSettings | None = None) -> int:
    """Run the Discord bot; returns the process exit code."""
    try:
        s = discord_settings(bot_settings)
    except QabotError as err:
        return _error(f"qabot discord: {err}", "")
    secret = s.discord_token.get_secret_value().strip() if s.discord_token else ""
    if not secret:
        return _error(NO_TOKEN, secret)

    root = logging.getLogger()
    if not root.handlers:  # keep a logging setup the caller already made
        discord.utils.setup_logging(level=logging.INFO, root=True)
    redact = _Redact(secret)
    handlers = list(root.handlers)
    for handler in handlers:
        handler.addFilter(redact)
    try:
        return _run(settings, s, secret)
    finally:
        for handler in handlers:
            handler.removeFilter(redact)


def _run(settings: Settings, s: DiscordSettings, secret: str) -> int:
    try:
        engine = QAEngine.from_settings(settings)
        bot = create_bot(engine, s)
    except QabotError as err:
        return _error(f"qabot discord: {err}", secret)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        stopping: list[asyncio.Task[None]] = []

        def stop(name: str) -> None:
            log.info("%s received: stopping (answers in flight finish first).", name)
            stopping.append(loop.create_task(bot.close()))

        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform
                loop.add_signal_handler(sig, stop, sig.name)
        async with bot:
            await bot.start(secret)

    try:
        asyncio.run(main())
    except discord.LoginFailure:
        return _error(BAD_TOKEN, secret)
    except discord.PrivilegedIntentsRequired:
        return _error(INTENTS, secret)
    except (discord.GatewayNotFound, discord.ConnectionClosed, OSError) as err:
        return _error(f"qabot discord: cannot reach Discord ({type(err).__name__}): check the network.", secret)
    except discord.HTTPException as err:
        return _error(f"qabot discord: Discord answered {err.status} at login: try again later.", secret)
    except KeyboardInterrupt:
        log.info("Stopped.")
    finally:
        engine.close()
    log.info("Stopped.")
    return 0
