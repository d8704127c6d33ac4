"""Shared fixtures. The real model and the real seed article, built once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test depends on wall-clock speed: Hypothesis neither times examples (its default deadline is
# 200 ms) nor fails a test whose input generation is slow on a loaded machine.
settings.register_profile("qabot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("qabot")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The ONNX export shared by every index (~/.cache/qabot/onnx) is made once per test session in a
# folder of its own: the tests neither read nor fill the developer's cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="qabot-test-cache-")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "000_1e0f96428eb82f3b.txt"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's .env or QABOT_* variables, or writes ./index."""
    for key in list(os.environ):
        if key.startswith("QABOT_") or key == "DISCORD_TOKEN":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


_MODEL_GUARD = pytest.MonkeyPatch()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that loads the real model (torch or its ONNX export), in its own body or in a fixture
    of any scope, fails unless it is marked slow: the fast loop `pytest -m "not slow"` never pays
    for the model. Its tokenizer alone is allowed."""
    _MODEL_GUARD.undo()
    if item.get_closest_marker("slow") is not None:
        return
    from qabot import embedder, onnx_encoder

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{item.nodeid} loads the real model: mark it @pytest.mark.slow")

    _MODEL_GUARD.setattr(embedder.SentenceTransformerEmbedder, "load_model", refuse)
    _MODEL_GUARD.setattr(onnx_encoder.OnnxQueryEncoder, "load", refuse)
    _MODEL_GUARD.setattr(onnx_encoder, "ensure_exported", refuse)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _MODEL_GUARD.undo()


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real sentence-transformers embedder (loaded once)."""
    from qabot.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(seeds folder holding a copy of the seed article, index folder built from it)."""
    base = tmp_path_factory.mktemp("seed")
    seeds = base / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    return seeds, base / "index"


@pytest.fixture(scope="session")
def seed_settings(seed_dirs: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    from qabot import Settings

    seeds, index = seed_dirs
    return Settings(seeds_dir=seeds, index_dir=index, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seed_engine(seed_settings, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A QAEngine over the seed article with the real model, FAISS, BM25 and SQLite."""
    from qabot import QAEngine

    yield QAEngine.from_settings(seed_settings, embedder=embedder)
