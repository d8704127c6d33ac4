"""Settings: environment, .env, and the documented example file."""

from __future__ import annotations

from pathlib import Path

import pytest

from qabot.settings import Settings, env_example_text

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_setting_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example_text(), "regenerate: python -c 'from qabot.settings import env_example_text; ...'"
    for name in Settings.model_fields:
        assert f"QABOT_{name.upper()}=" in text


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QABOT_TOP_K=7\nDISCORD_TOKEN=abc.def\n", encoding="utf-8")
    monkeypatch.setenv("QABOT_CANDIDATES", "11")
    settings = Settings()
    assert settings.top_k == 7 and settings.candidates == 11
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(settings)
    monkeypatch.setenv("QABOT_DISCORD_TOKEN", "xyz")
    assert Settings().discord_token.get_secret_value() == "xyz"  # type: ignore[union-attr]
