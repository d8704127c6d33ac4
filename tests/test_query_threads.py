"""How many threads a question's embedding gets (QABOT_QUERY_THREADS, 0 = by the index's size)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qabot import Settings
from qabot.embedder import LONE_EMBEDDING_FROM, query_threads_for
from qabot.store import served_chunks


def _settings(index: Path, **extra: object) -> Settings:
    return Settings(index_dir=index, _env_file=None, **extra)  # type: ignore[call-arg]


def _fake_generation(index: Path, chunks: int) -> None:
    gen = index / "gen-000001"
    gen.mkdir(parents=True)
    (gen / "manifest.json").write_text(json.dumps({"counts": {"chunks": chunks}}), encoding="utf-8")
    (index / "CURRENT").write_text("gen-000001", encoding="utf-8")


def test_a_large_index_gets_one_thread_a_small_one_two(tmp_path: Path) -> None:
    large, small = tmp_path / "large", tmp_path / "small"
    _fake_generation(large, LONE_EMBEDDING_FROM)
    _fake_generation(small, LONE_EMBEDDING_FROM - 1)
    assert served_chunks(large) == LONE_EMBEDDING_FROM
    assert query_threads_for(_settings(large)) == 1
    assert query_threads_for(_settings(small)) == 2


def test_no_index_or_an_unreadable_manifest_gets_two(tmp_path: Path) -> None:
    assert served_chunks(tmp_path / "none") is None
    assert query_threads_for(_settings(tmp_path / "none")) == 2
    broken = tmp_path / "broken"
    _fake_generation(broken, 5)
    (broken / "gen-000001" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert served_chunks(broken) is None
    assert query_threads_for(_settings(broken)) == 2
    (broken / "CURRENT").write_text("../elsewhere", encoding="utf-8")  # not a generation name
    assert query_threads_for(_settings(broken)) == 2


def test_the_setting_wins_and_milvus_keeps_two(tmp_path: Path) -> None:
    large = tmp_path / "large"
    _fake_generation(large, 10 * LONE_EMBEDDING_FROM)
    assert query_threads_for(_settings(large, query_threads=3)) == 3
    assert query_threads_for(_settings(large, backend="milvus")) == 2  # BM25 runs in the caller there


@pytest.mark.slow
def test_a_real_index_and_its_engine(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The seed index's own manifest is read (16 chunks: two threads); the same index with its
    manifest saying 1M chunks makes the engine's embedder use one."""
    from qabot import QAEngine

    index = seed_engine.settings.index_dir
    assert served_chunks(index) == seed_engine.info(check_stale=False).chunks
    assert query_threads_for(seed_engine.settings) == 2
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    gen = copy / (copy / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    manifest["counts"]["chunks"] = 1_000_000
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    engine = QAEngine(_settings(copy, seeds_dir=seed_engine.settings.seeds_dir))
    assert engine.embedder._query_threads == 1  # type: ignore[attr-defined]
