"""The Discord front end (discord.py). The core never imports this package.

from qabot.bot import create_bot
bot = create_bot(QAEngine.from_settings(settings), settings)   # built, not started
await bot.start(token)                                          # or: qabot discord

client.py        create_bot, the slash commands and the message listener
format.py        escaping, Discord's limits, answer and /sources embeds
conversation.py  follow-ups: answer and thread ids -> earlier questions
limits.py        per-user cooldown, bounded concurrency and queue
run.py           run_bot(settings), what `qabot discord` calls
"""

from __future__ import annotations

from .client import create_bot

__all__ = ["create_bot"]
