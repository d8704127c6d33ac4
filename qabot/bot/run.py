"""`qabot discord`: read the token, open the engine, run the bot until stopped.

    run_bot(Settings()) -> exit code

Every expected failure (no token, a token Discord rejects, an intent not enabled in the
developer portal, no network, no usable index) is one line on stderr and exit code 1.
The token never appears in output or logs.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import discord

from ..engine import QAEngine
from ..errors import QabotError
from ..settings import Settings
from .client import create_bot

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


def run_bot(settings: Settings) -> int:
    """Run the Discord bot; returns the process exit code."""
    secret = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
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
        return _run(settings, secret)
    finally:
        for handler in handlers:
            handler.removeFilter(redact)


def _run(settings: Settings, secret: str) -> int:
    try:
        engine = QAEngine.from_settings(settings)
        bot = create_bot(engine, settings)
    except QabotError as err:
        return _error(f"qabot discord: {err}", secret)

    async def main() -> None:
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
    return 0
