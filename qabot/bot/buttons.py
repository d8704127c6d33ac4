"""The buttons under every answer and the follow-up modal.

    view = answer_view(key=42, more=3, helper=True)    # Follow up · 👍 · 👎 · More sources · Still need help?
    parse_custom_id("qabot:up:42")                      # ("up", 42)

Buttons carry their action and the answer's key in their custom id, so a click is
understood after a restart too (the question log keeps what it refers to). Views are
stopped before sending: clicks arrive as interactions, handled by the cog, and no view is
kept in memory per message.
"""

from __future__ import annotations

import re

import discord

PREFIX = "qabot"
FOLLOW_UP = "follow"
UP = "up"
DOWN = "down"
MORE = "more"
HELP = "help"
MODAL = "ask"
MODAL_FIELD = "question"

_CUSTOM_ID = re.compile(rf"^{PREFIX}:(\w+):(-?\d+)$")


def custom_id(action: str, key: int) -> str:
    return f"{PREFIX}:{action}:{key}"


def parse_custom_id(value: str | None) -> tuple[str, int] | None:
    m = _CUSTOM_ID.match(value or "")
    return (m.group(1), int(m.group(2))) if m else None


def answer_view(key: int, more: int = 0, helper: bool = False, follow_up: bool = True) -> discord.ui.View:
    """The row of buttons under an answer (a stopped view: nothing stays in memory)."""
    view = discord.ui.View(timeout=None)
    if follow_up:
        view.add_item(
            discord.ui.Button(label="Follow up", style=discord.ButtonStyle.primary, custom_id=custom_id(FOLLOW_UP, key))
        )
    view.add_item(discord.ui.Button(label="👍", style=discord.ButtonStyle.secondary, custom_id=custom_id(UP, key)))
    view.add_item(discord.ui.Button(label="👎", style=discord.ButtonStyle.secondary, custom_id=custom_id(DOWN, key)))
    if more:
        view.add_item(
            discord.ui.Button(label="More sources", style=discord.ButtonStyle.secondary, custom_id=custom_id(MORE, key))
        )
    if helper:
        view.add_item(
            discord.ui.Button(
                label="Still need help?", style=discord.ButtonStyle.secondary, custom_id=custom_id(HELP, key)
            )
        )
    view.stop()
    return view


class FollowUpModal(discord.ui.Modal):
    """A text box for a follow-up question: its text reaches the bot without the message-content intent."""

    def __init__(self, key: int, previous: str | None, max_chars: int) -> None:
        super().__init__(title="Follow-up question", custom_id=custom_id(MODAL, key), timeout=None)
        placeholder = f"After: {previous}" if previous else "Your next question about the documents"
        self.question: discord.ui.TextInput[FollowUpModal] = discord.ui.TextInput(
            label="Your question",
            custom_id=MODAL_FIELD,
            style=discord.TextStyle.paragraph,
            placeholder=placeholder[:100],
            max_length=max(10, min(4000, max_chars)),
            required=True,
        )
        self.add_item(self.question)
        self.stop()  # submissions are handled by the cog's interaction listener
