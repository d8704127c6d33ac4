"""Settings: environment, .env, and the documented example file."""

from __future__ import annotations

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
