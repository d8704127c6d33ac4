"""`qabot discord` (run_bot) and create_bot's construction, without a network."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import discord
import pytest
from discord.ext import commands

from qabot import Settings
from qabot.bot import create_bot
from qabot.bot import run as run_module
from qabot.bot.settings import DiscordSettings
from qabot.errors import ConfigError

TOKEN = "MTIzNDU2Nzg5.secret-token-value.do-not-print"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _bot(**values: Any) -> DiscordSettings:
    return DiscordSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_missing_token_is_one_line_and_exit_code_1(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr(run_module.QAEngine, "from_settings", lambda *a, **k: pytest.fail("engine opened"))
    assert run_module.run_bot(_settings()) == 1  # read from the (empty) environment
    assert run_module.run_bot(_settings(), _bot(discord_token="   ")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("DISCORD_TOKEN" in line for line in err)


def test_token_is_read_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert _bot().discord_token.get_secret_value() == TOKEN  # type: ignore[union-attr]
    monkeypatch.delenv("DISCORD_TOKEN")
    monkeypatch.setenv("QABOT_DISCORD_TOKEN", TOKEN)
    assert _bot().discord_token.get_secret_value() == TOKEN  # type: ignore[union-attr]
    assert TOKEN not in repr(_bot())


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (discord.LoginFailure("Improper token has been passed."), "rejected the bot token"),
        (discord.PrivilegedIntentsRequired(None), "message-content intent"),  # type: ignore[arg-type]
        (OSError(f"cannot connect (token {TOKEN})"), "cannot reach Discord"),
    ],
)
@pytest.mark.slow
def test_login_problems_are_one_line_without_the_token(
    error: BaseException, expected: str, seed_engine: Any, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_module.QAEngine, "from_settings", lambda *a, **k: seed_engine)
    monkeypatch.setattr(seed_engine, "close", lambda: None)  # the session shares this engine
    seen: list[str] = []

    async def start(self: Any, token: str, *, reconnect: bool = True) -> None:
        seen.append(token)
        raise error

    monkeypatch.setattr(commands.Bot, "start", start)
    assert run_module.run_bot(_settings(), _bot(discord_token=f" {TOKEN} ")) == 1
    assert seen == [TOKEN]
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert TOKEN not in out.err and TOKEN not in out.out


@pytest.mark.slow
def test_create_bot_builds_without_starting(seed_engine: Any, seed_settings: Settings) -> None:
    bot = create_bot(seed_engine, seed_settings)  # the core settings: the bot's own come from the environment
    assert isinstance(bot, commands.Bot) and not isinstance(bot, commands.AutoShardedBot)
    assert not bot.is_ready() and not bot.is_closed() and bot.user is None
    assert bot.intents.message_content is False and bot.intents.members is False and bot.intents.presences is False
    mentions = bot.allowed_mentions
    assert mentions is not None and mentions.to_dict() == {"parse": []} and mentions.replied_user is False


@pytest.mark.slow
def test_sharded_and_misconfigured_bots(seed_engine: Any, seed_settings: Settings) -> None:
    sharded = create_bot(seed_engine, _bot(discord_sharded=True, discord_shard_count=2))
    assert isinstance(sharded, commands.AutoShardedBot) and sharded.shard_count == 2
    content = create_bot(seed_engine, _bot(discord_message_content=True))
    assert content.intents.message_content is True
    with pytest.raises(ConfigError, match="QABOT_DISCORD_GUILD_ID"):
        create_bot(seed_engine, _bot(discord_sync="guild"))


@pytest.mark.slow
def test_create_bot_with_the_core_settings_reads_the_bots_from_the_environment(
    seed_engine: Any, seed_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("QABOT_DISCORD_MESSAGE_CONTENT", "true")
    (tmp_path / ".env").write_text("QABOT_DISCORD_SHARDED=true\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    bot = create_bot(seed_engine, seed_settings)
    assert bot.intents.message_content is True and isinstance(bot, commands.AutoShardedBot)
    monkeypatch.setenv("QABOT_DISCORD_MAX_CONCURRENCY", "many")
    with pytest.raises(ConfigError, match="QABOT_DISCORD_MAX_CONCURRENCY"):
        create_bot(seed_engine, seed_settings)


@pytest.mark.slow
def test_sigterm_stops_the_bot_cleanly(seed_engine: Any, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`qabot discord` under systemd or docker: SIGTERM closes the bot and the index, exit code 0."""
    import os
    import signal

    closed: list[str] = []
    monkeypatch.setattr(run_module.QAEngine, "from_settings", lambda *a, **k: seed_engine)
    monkeypatch.setattr(seed_engine, "close", lambda: closed.append("index"))

    async def start(self: Any, token: str, *, reconnect: bool = True) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # what `systemctl stop` sends
        while not self.is_closed():
            await asyncio.sleep(0.01)
        closed.append("bot")

    monkeypatch.setattr(commands.Bot, "start", start)
    assert run_module.run_bot(_settings(), _bot(discord_token=TOKEN, discord_log=None)) == 0
    assert closed == ["bot", "index"]
    assert TOKEN not in capsys.readouterr().err


def test_the_core_never_imports_discord() -> None:
    code = (
        "import sys, qabot, qabot.engine, qabot.settings, qabot.records, qabot.errors, qabot.cli;"
        "assert not [m for m in sys.modules if m == 'discord' or m.startswith('discord.')], 'discord imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
