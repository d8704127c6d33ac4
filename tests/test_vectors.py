"""The FAISS side: the index kind by size, and an IVF index that works end to end once loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qabot import QAEngine, Settings, vectors

from .conftest import SEED_FILE
from .fakes import FakeEmbedder


def test_index_kind_by_size() -> None:
    assert vectors.index_kind(100_000) == "Flat"
    assert vectors.index_kind(1_000_000) == "IVF4000,SQ8"
    assert vectors.nprobe_for(4000) == 125 and vectors.nprobe_for(16) == 16


def _unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_loaded_ivf_index_searches_and_gives_back_vectors(tmp_path: Path) -> None:
    data = _unit_rows(3000, 32)
    path = tmp_path / "v.faiss"
    vectors.save_index(vectors.build_index(data, "IVF16,SQ8"), path)
    index = vectors.load_index(path)
    ids, scores = vectors.search(index, data[42], 5)
    assert ids[0] == 42 and scores[0] > 0.99
    assert float(index.reconstruct(42) @ data[42]) > 0.99  # needs the direct map load_index makes


def test_engine_answers_over_an_ivf_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXACT_LIMIT chunks the index is IVF: building, retrieving and answering all work."""
    monkeypatch.setattr(vectors, "EXACT_LIMIT", 4)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None)  # type: ignore[call-arg]
    engine = QAEngine.from_settings(settings, embedder=FakeEmbedder())
    gen = next((tmp_path / "index").glob("gen-*"))
    assert "IVF" in (gen / "manifest.json").read_text(encoding="utf-8")
    answer = engine.ask("How many missiles failed mid-flight?")
    assert answer.citations
    text = SEED_FILE.read_text(encoding="utf-8")
    assert all(text[c.start : c.end] == c.text for c in answer.citations)
