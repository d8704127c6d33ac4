"""Settings: environment, .env, and the documented example file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qabot.bot.settings import DiscordSettings, env_example_text
from qabot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example_text(), (
        "regenerate: python -c 'from qabot.bot.settings import env_example_text as t; "
        "open(\".env.example\", \"w\").write(t())'"
    )
    for name in (*Settings.model_fields, *DiscordSettings.model_fields):
        assert f"QABOT_{name.upper()}=" in text


def test_the_core_settings_know_nothing_of_discord() -> None:
    assert not [name for name in Settings.model_fields if "discord" in name]


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "QABOT_TOP_K=7\nDISCORD_TOKEN=abc.def\nQABOT_DISCORD_CHANNELS=help, 123456789012345678\n", encoding="utf-8"
    )
    monkeypatch.setenv("QABOT_CANDIDATES", "11")
    monkeypatch.setenv("QABOT_DISCORD_ROLES", "Members,#Helpers")
    monkeypatch.setenv("QABOT_DISCORD_OWNER_IDS", "[1, 2]")
    settings = Settings()
    assert settings.top_k == 7 and settings.candidates == 11
    bot = DiscordSettings()
    assert bot.discord_token is not None and bot.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(bot)
    assert bot.discord_channels == ["help", "123456789012345678"]
    assert bot.discord_roles == ["Members", "Helpers"] and bot.discord_owner_ids == [1, 2]
    monkeypatch.setenv("QABOT_DISCORD_TOKEN", "xyz")
    monkeypatch.setenv("QABOT_DISCORD_OWNER_IDS", "3, 4")
    again = DiscordSettings()
    assert again.discord_token.get_secret_value() == "xyz"  # type: ignore[union-attr]
    assert again.discord_owner_ids == [3, 4]


def test_a_misspelt_variable_is_reported_once_naming_the_closest_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QABOT_CANDIDTES=5\nQABOT_DISCORD_SOMETHING_NEW=1\nOTHER_TOOL=1\n", encoding="utf-8")
    monkeypatch.setenv("QABOT_TOPK", "7")
    monkeypatch.setenv("QABOT_DISCORD_COOLDOWN_RATE", "3")  # the bot's own settings: not reported
    monkeypatch.setenv("QABOT_SOURCE_URL", "https://docs.example.com/{path}")  # the bot's too
    monkeypatch.setenv("QABOT_XYZZY", "1")
    with caplog.at_level(logging.WARNING, logger="qabot.settings"):
        settings = Settings()
        Settings()  # a second Settings says nothing new
    lines = [r.getMessage() for r in caplog.records]
    assert settings.top_k == 5 and settings.candidates == 40  # misspelt: ignored, defaults kept
    assert sorted(lines) == [
        "Ignoring QABOT_CANDIDTES (.env): no such setting; did you mean QABOT_CANDIDATES?",
        "Ignoring QABOT_TOPK (environment): no such setting; did you mean QABOT_TOP_K?",
        "Ignoring QABOT_XYZZY (environment): no such setting; see .env.example for the settings.",
    ]


def test_the_cli_prints_the_misspelt_variable_warning_as_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env["QABOT_INDEX_DRI"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "qabot", "index", "status", "--index", str(tmp_path / "none")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1200, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    warning, error = done.stderr.splitlines()
    assert warning == "Ignoring QABOT_INDEX_DRI (environment): no such setting; did you mean QABOT_INDEX_DIR?"
    assert error.startswith("qabot: No index")
