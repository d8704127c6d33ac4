"""Index generations: atomic switch, incremental reuse, pruning, and every way an index can be bad."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qabot import QAEngine, Settings, store
from qabot.errors import BuildInterrupted, IndexCorrupt, IndexMismatch, IndexMissing, SourceError

from .conftest import SEED_FILE
from .fakes import FakeEmbedder


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(seeds_dir=tmp_path / "seeds", index_dir=tmp_path / "index", _env_file=None, **kw)  # type: ignore[call-arg]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy2(SEED_FILE, folder / SEED_FILE.name)
    (folder / "cats.md").write_text("# Cats\n\nCats sleep sixteen hours a day.\n\nThey purr.", encoding="utf-8")
    return folder


def test_build_publishes_a_generation_and_answers(tmp_path: Path, seeds: Path) -> None:
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    index = tmp_path / "index"
    assert (index / store.CURRENT).read_text().strip() == "gen-000001"
    manifest = json.loads((index / "gen-000001" / store.MANIFEST).read_text())
    assert manifest["schema"] == store.SCHEMA_VERSION
    assert manifest["embedder"] == {"model": "fake-embedder", "dim": 64, "max_tokens": 256, "precision": "float32"}
    assert "sources" not in manifest  # the per-source records live in SQLite
    gen = store.open_generation(index)
    assert store.indexed_sources(gen) == sorted([SEED_FILE.name, "cats.md"])
    assert manifest["counts"]["documents"] == 2
    answer = engine.ask("How many hours do cats sleep?")
    assert not answer.abstained and "sixteen hours" in (answer.text or "")
    first = answer.citations[0]
    assert first.source == "cats.md"
    assert (seeds / "cats.md").read_text()[first.start : first.end] == first.text


def test_the_engine_exposes_the_generation_in_use_for_tools(tmp_path: Path, seeds: Path) -> None:
    """`engine.reader` is the public way to search the index directly (benchmarks do)."""
    engine = QAEngine(_settings(tmp_path), embedder=FakeEmbedder())
    with pytest.raises(IndexMissing, match="qabot index build"):
        _ = engine.reader
    engine.build()
    ids, _ = engine.reader.lexical.search("cats purr", 3)
    row = engine.reader.chunks([int(ids[0])])[int(ids[0])]
    assert engine.reader.document(row.doc_id)[0] == "cats.md"
    assert engine.reader.generation.name == engine.generation == "gen-000001"


def test_incremental_rebuild_reuses_vectors_and_drops_removed_documents(tmp_path: Path, seeds: Path) -> None:
    fake = FakeEmbedder()
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=fake)
    first_count = fake.embedded
    (seeds / "cats.md").unlink()
    (seeds / "dogs.txt").write_text("Dogs bark at the mail carrier.", encoding="utf-8")
    assert engine.stale_sources() == ["cats.md", "dogs.txt"]
    report = engine.build()
    # Only the new one-sentence document goes through the model (its chunk and sentence are one text).
    assert report.embedded == 1
    assert fake.embedded == first_count + 1
    assert engine.info().sources == (SEED_FILE.name, "dogs.txt")
    assert engine.stale_sources() == []
    assert engine.ask("What do dogs bark at?").citations[0].source == "dogs.txt"


def test_the_stale_count_a_one_shot_ask_prints_is_the_number_of_stale_sources(tmp_path: Path, seeds: Path) -> None:
    """`stale_count` counts removed sources without reading them: the same number in every case."""
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    assert engine.stale_count() == len(engine.stale_sources()) == 0
    (seeds / "cats.md").unlink()  # removed
    assert engine.stale_count() == len(engine.stale_sources()) == 1
    (seeds / "dogs.txt").write_text("Dogs bark at the mail carrier.", encoding="utf-8")  # added
    (seeds / "bird.txt").write_text("Birds sing.", encoding="utf-8")
    assert engine.stale_count() == len(engine.stale_sources()) == 3
    (seeds / SEED_FILE.name).write_text("Changed.", encoding="utf-8")  # changed
    assert engine.stale_count() == len(engine.stale_sources()) == 4
    gone = tmp_path / "elsewhere"
    seeds.rename(gone)  # no seeds folder at all: every indexed document
    assert engine.stale_count() == len(engine.stale_sources()) == 2


def test_same_sources_give_the_same_index(tmp_path: Path, seeds: Path) -> None:
    engine = QAEngine.from_settings(_settings(tmp_path, keep_generations=10), embedder=FakeEmbedder())
    engine.build(full=True)  # gen 2: everything embedded again
    (seeds / "extra.txt").write_text("Something else entirely.", encoding="utf-8")
    engine.build()  # gen 3
    (seeds / "extra.txt").unlink()
    report = engine.build()  # gen 4: the same sources as gen 2, every vector from the cache
    assert report.embedded == 0 and report.generation == "gen-000004"
    index = tmp_path / "index"

    def dump(gen: Path) -> list[object]:
        conn = store.connect(gen / store.META)
        rows = [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("documents", "chunks", "sentences")]
        conn.close()
        return [*rows, np.load(gen / store.SENTENCE_VECTORS).tolist()]

    assert dump(index / "gen-000001") == dump(index / "gen-000002") == dump(index / "gen-000004")


def test_generations_are_pruned_to_the_last_two(tmp_path: Path, seeds: Path) -> None:
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    for _ in range(3):
        engine.build(full=True)
    assert [g.name for g in store.list_generations(tmp_path / "index")] == ["gen-000003", "gen-000004"]


def test_a_build_with_nothing_changed_writes_nothing(tmp_path: Path, seeds: Path) -> None:
    fake = FakeEmbedder()
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=fake)
    before = fake.embedded
    os.utime(seeds / "cats.md")  # touched, same content: not stale, nothing to rebuild
    assert engine.stale_sources() == []
    report = engine.build()
    assert report.unchanged and report.generation == "gen-000001" and fake.embedded == before
    assert [g.name for g in store.list_generations(tmp_path / "index")] == ["gen-000001"]
    (seeds / "cats.md").write_text("# Cats\n\nCats sleep a lot.", encoding="utf-8")
    assert engine.stale_sources() == ["cats.md"]
    assert not engine.build().unchanged


def test_interrupted_build_leaves_the_previous_index_in_use(tmp_path: Path, seeds: Path) -> None:
    fake = FakeEmbedder()
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=fake)
    before = engine.ask("How many hours do cats sleep?")
    (seeds / "new.txt").write_text("Fresh text about parrots. Parrots talk.", encoding="utf-8")
    fake.fail_after = fake.embedded + 1  # Ctrl-C in the middle of embedding
    with pytest.raises(BuildInterrupted, match=r"previous index .* is unchanged"):
        engine.build(full=True)
    index = tmp_path / "index"
    assert (index / store.CURRENT).read_text().strip() == "gen-000001"
    assert not list(index.glob(".tmp-*"))
    fake.fail_after = None
    reopened = QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    assert reopened.ask("How many hours do cats sleep?").to_json() == before.to_json()


def test_missing_index_and_empty_seeds_are_clear_errors(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(IndexMissing, match="qabot index build"):
        store.open_generation(settings.index_dir)
    (tmp_path / "seeds").mkdir()
    with pytest.raises(SourceError, match=r"no \.txt, \.md, \.html, \.pdf or \.docx files"):
        QAEngine.from_settings(settings, embedder=FakeEmbedder())
    (tmp_path / "seeds" / "junk.txt").write_bytes(b"\x00\x01\x02")
    with pytest.raises(SourceError, match="none readable"):
        QAEngine.from_settings(settings, embedder=FakeEmbedder())
    assert not (tmp_path / "index" / store.CURRENT).exists()


def test_corrupt_index_files_are_reported_with_what_to_run(tmp_path: Path, seeds: Path) -> None:
    QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    gen = tmp_path / "index" / "gen-000001"
    (gen / store.VECTORS).write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="index build --full"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    (gen / store.VECTORS).unlink()
    with pytest.raises(IndexCorrupt, match=r"missing vectors\.faiss"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    (gen / store.MANIFEST).write_text("{not json")
    with pytest.raises(IndexCorrupt, match="unreadable"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    (tmp_path / "index" / store.CURRENT).write_text("../../etc")
    with pytest.raises(IndexCorrupt, match="does not name a generation"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())


def test_chunk_rows_missing_from_the_table_are_inconsistent_counts(tmp_path: Path, seeds: Path) -> None:
    """Opening checks the last chunk id against the manifest (not a count of every row)."""
    import sqlite3

    QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    meta = tmp_path / "index" / "gen-000001" / store.META
    conn = sqlite3.connect(meta)
    conn.execute("DELETE FROM chunks WHERE id = (SELECT max(id) FROM chunks)")
    conn.commit()
    conn.close()
    with pytest.raises(IndexCorrupt, match="inconsistent counts"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())


def test_a_corrupt_index_is_repaired_by_a_full_build(tmp_path: Path, seeds: Path) -> None:
    QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    (tmp_path / "index" / "gen-000001" / store.VECTORS).write_bytes(b"garbage")
    engine = QAEngine(_settings(tmp_path), embedder=FakeEmbedder())
    engine.build(full=True)
    assert engine.ask("How many hours do cats sleep?").citations


def test_index_from_another_model_or_schema_is_refused(tmp_path: Path, seeds: Path) -> None:
    QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder(model_id="other-model"))
    with pytest.raises(IndexMismatch, match=r"built with model 'other-model'.*index build --full"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    manifest_file = tmp_path / "index" / "gen-000001" / store.MANIFEST
    manifest = json.loads(manifest_file.read_text())
    manifest["schema"] = 999
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="schema 999"):
        QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder(model_id="other-model"))


def test_a_second_build_at_the_same_time_is_refused(tmp_path: Path, seeds: Path) -> None:
    from qabot.errors import BuildLocked

    settings = _settings(tmp_path)
    with store.build_lock(settings.index_dir), pytest.raises(BuildLocked, match="Another build"):
        QAEngine(settings, embedder=FakeEmbedder()).build()


def test_reload_picks_up_a_build_made_elsewhere(tmp_path: Path, seeds: Path) -> None:
    engine = QAEngine.from_settings(_settings(tmp_path), embedder=FakeEmbedder())
    assert engine.reload() is False
    other = QAEngine(_settings(tmp_path), embedder=FakeEmbedder())
    (seeds / "dogs.txt").write_text("Dogs bark at the mail carrier.", encoding="utf-8")
    other.build()
    assert engine.generation == "gen-000001"
    assert engine.reload() is True
    assert engine.generation == "gen-000002"
    assert "dogs.txt" in engine.info().sources


class _ExportingFake(FakeEmbedder):
    """A fake that records ONNX export/attach calls like SentenceTransformerEmbedder's."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[Path] = []
        self.attached = False

    def export_query_encoder(self, index_dir: Path) -> Path:
        self.exported.append(index_dir)
        return index_dir / "onnx"

    def attach_query_encoder(self, index_dir: Path) -> bool:
        self.attached = bool(self.exported)
        return self.attached


def test_an_index_without_the_fast_query_encoder_gets_it_on_open(tmp_path: Path, seeds: Path) -> None:
    QAEngine.from_settings(_settings(tmp_path, onnx_queries=False), embedder=_ExportingFake())
    fake = _ExportingFake()
    QAEngine.from_settings(_settings(tmp_path), embedder=fake)
    from qabot.onnx_encoder import onnx_cache_dir

    assert fake.exported == [onnx_cache_dir()] and fake.attached  # the shared cache, not the index folder
    off = _ExportingFake()
    QAEngine.from_settings(_settings(tmp_path, onnx_queries=False), embedder=off)
    assert off.exported == [] and not off.attached


def test_plans_read_back_for_unchanged_documents_equal_fresh_plans(tmp_path: Path, seeds: Path) -> None:
    from qabot.builder import chunker_settings
    from qabot.chunker import plan_chunks
    from qabot.loader import load_documents
    from qabot.reuse import previous_plans

    fake = FakeEmbedder()
    settings = _settings(tmp_path, chunk_tokens=40).resolved()  # small chunks: many, overlapping, titled
    QAEngine.from_settings(settings, embedder=fake)
    docs, _ = load_documents(settings.seeds_dir)
    chunking = chunker_settings(settings, fake)
    gen = store.open_generation(settings.index_dir, model=fake.model_id)
    reused = previous_plans(gen, chunking, docs)
    assert set(reused) == {d.source for d in docs}
    for doc in docs:
        fresh = plan_chunks(doc, fake.count_tokens, fake.cut_points, chunking["max_tokens"], 1, True)
        assert reused[doc.source] == fresh
        assert len(fresh.chunks) > 1 or doc.source == "cats.md"
    (seeds / "cats.md").write_text("# Cats\n\nChanged.", encoding="utf-8")
    docs, _ = load_documents(settings.seeds_dir)
    assert set(previous_plans(gen, chunking, docs)) == {SEED_FILE.name}
    assert previous_plans(gen, {**chunking, "max_tokens": 41}, docs) == {}


def test_embedding_in_small_blocks_gives_the_same_index(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qabot import builder

    whole = _settings(tmp_path)
    QAEngine.from_settings(whole, embedder=FakeEmbedder())
    monkeypatch.setattr(builder, "EMBED_BLOCK", 3)
    blocks = whole.model_copy(update={"index_dir": tmp_path / "blocks"})
    QAEngine.from_settings(blocks, embedder=FakeEmbedder())
    a = store.open_generation(tmp_path / "index").path
    b = store.open_generation(tmp_path / "blocks").path
    assert np.array_equal(np.load(a / store.SENTENCE_VECTORS), np.load(b / store.SENTENCE_VECTORS))
    assert (a / store.VECTORS).read_bytes() == (b / store.VECTORS).read_bytes()
