"""The Discord bot's own settings: `QABOT_DISCORD_*` (and `QABOT_SOURCE_URL`) from the environment and `.env`.

    settings = DiscordSettings()          # what `qabot discord` and create_bot read
    settings.discord_channels             # ["123456789012345678", "help"]

The core `Settings` (qabot/settings.py) knows nothing about Discord. `create_bot(engine,
settings)` accepts either: given the core Settings, the bot reads these from the environment.
Lists (`QABOT_DISCORD_CHANNELS`, `QABOT_DISCORD_ROLES`, `QABOT_DISCORD_OWNER_IDS`) are
comma-separated (`general,123456789012345678`); a JSON list works too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..settings import env_example_text as core_env_example_text


def _split(value: Any) -> Any:
    """'a, b' or '["a", "b"]' or a list -> a list of non-empty stripped strings."""
    if value is None:
        return []
    if isinstance(value, (int, float)):
        return [str(value)]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text.strip("[]").split(",")
        else:
            value = text.split(",")
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip().lstrip("#@").strip() for v in value if str(v).strip()]
    return value


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QABOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- connection
    discord_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("QABOT_DISCORD_TOKEN", "DISCORD_TOKEN", "discord_token"),
        description="Discord bot token, also read as DISCORD_TOKEN. Keep it secret: never commit .env.",
    )
    discord_sync: Literal["auto", "off", "global", "guild"] = Field(
        "auto",
        description="Slash-command sync at start: auto (sync globally only when Discord's copy differs, one "
        "cheap check), off, global, or guild (QABOT_DISCORD_GUILD_ID, for development).",
    )
    discord_guild_id: int | None = Field(None, description="Guild for discord_sync=guild.")
    discord_sharded: bool = Field(False, description="Run as AutoShardedBot.")
    discord_shard_count: int | None = Field(
        None, ge=1, description="Shards for discord_sharded (empty: Discord's recommendation)."
    )

    # --- who may ask, where
    discord_owner_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated user ids allowed to /reindex and /add anywhere, besides members with "
        "Manage Server.",
    )
    discord_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated channel ids or names where the bot answers (threads inside them count); "
        "empty: every channel it can read.",
    )
    discord_dms: bool = Field(True, description="Answer direct messages (false: a one-line refusal instead).")
    discord_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated role ids or names allowed to ask in servers; empty: everyone.",
    )
    discord_helper_role: str | None = Field(
        None,
        description="Role id or name pinged by the 'Still need help?' button; empty: no such button. The only "
        "mention the bot ever makes.",
    )

    # --- load limits
    discord_cooldown_seconds: float = Field(
        30.0, ge=0, description="Per-user rate limit window, in seconds (0 turns the limit off)."
    )
    discord_cooldown_rate: int = Field(
        5, ge=1, le=1000, description="Questions one user may ask per discord_cooldown_seconds."
    )
    discord_max_question_chars: int = Field(500, ge=10, le=4000, description="Longest question from Discord.")
    discord_max_concurrency: int = Field(2, ge=1, le=64, description="Retrievals running at once.")
    discord_max_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest expected wait (measured answer time x questions ahead) before a new question is "
        "refused as busy.",
    )
    discord_max_queue: int = Field(
        200, ge=0, le=10000, description="Hard cap on questions waiting, whatever the expected wait."
    )

    # --- conversation
    discord_threads: bool = Field(
        True, description="Open a thread on each /ask answer in a server channel, for follow-up questions."
    )
    discord_message_content: bool = Field(
        False,
        description="Request the privileged message-content intent (enable it in the developer portal too) "
        "so questions in the bot's threads are follow-ups without a mention.",
    )

    discord_generate: bool = Field(
        False,
        description="Let the language model (QABOT_LLM_URL, QABOT_LLM_MODEL) write answers from the passages, "
        "every sentence checked against them; the quoted answer when it fails. The answer message is edited as the "
        "text arrives (at most once a second), then replaced by the checked answer.",
    )

    # --- documents
    discord_guilds_dir: Path | None = Field(
        None,
        description="Folder with one knowledge base per server: <dir>/<server id>/seeds (its index beside it, "
        "in index/); servers without one use the shared index. Needed for /add.",
    )
    discord_add_max_bytes: int = Field(5_000_000, ge=1, description="Largest file /add accepts, in bytes.")
    source_url: str | None = Field(
        None,
        description="Link template for sources, e.g. https://docs.example.com/{path} ({path}: the file's path "
        "in the seeds folder, {stem}: without its suffix); a Markdown file's own 'url:' front matter wins.",
    )

    # --- question log and health
    discord_log: Path | None = Field(
        Path("discord-questions.sqlite3"),
        description="SQLite question log (time, server, channel, question, answer, citations, latency, "
        "feedback); empty: no log.",
    )
    discord_log_authors: bool = Field(False, description="Also log who asked (user id and name); off: never stored.")
    discord_heartbeat_file: Path | None = Field(
        None, description="File whose modification time the bot refreshes every 30 s while connected."
    )
    discord_health_port: int | None = Field(
        None, ge=1, le=65535, description="Serve GET /health on 127.0.0.1:<port> (200 when connected, else 503)."
    )

    @field_validator("discord_channels", "discord_roles", "discord_owner_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("discord_helper_role", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lstrip("@").strip()
            return value or None
        return value

    @field_validator("discord_guilds_dir", "discord_log", "discord_heartbeat_file", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value


def env_example_text() -> str:
    """The whole `.env.example`: the core settings, then the Discord bot's."""
    return core_env_example_text() + "\n" + core_env_example_text(DiscordSettings, header=False)
