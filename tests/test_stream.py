"""The streamed build: blocks change nothing, sources live in SQLite, a killed build resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qabot import QAEngine, Settings, builder, store
from qabot.cli import main
from qabot.errors import IndexMismatch
from qabot.lexical import LexicalIndex
from qabot.reader import IndexReader
from qabot.reuse import EmbeddingCache

from .conftest import ROOT, SEED_FILE
from .fakes import FakeEmbedder

SMALL_CORPUS = {
    "animals/cats.md": "# Cats\n\nCats sleep sixteen hours a day. They purr when content.\n\n"
    "A group of cats is called a clowder. Kittens open their eyes after a week.",
    "animals/dogs.txt": "Dogs\n\nDogs bark at the mail carrier. A dog's nose has three hundred million receptors.\n\n"
    "The Basenji is a dog that does not bark; it yodels instead.",
    "places/paris.html": "<html><head><title>Paris</title></head><body><h1>Paris</h1>"
    "<p>Paris is the capital of France. The Seine flows through it.</p>"
    "<p>The Eiffel Tower was finished in 1889 for the World's Fair.</p></body></html>",
    "places/rome.txt": "Rome\n\nRome was founded, the legend says, in 753 BC by Romulus.\n\n"
    "The Colosseum held about fifty thousand spectators. Rome is the capital of Italy.",
    "science/water.txt": "Water\n\nWater boils at 100 degrees Celsius at sea level. Ice floats because it is less "
    "dense than liquid water.\n\nA water molecule has two hydrogen atoms and one oxygen atom.",
    "empty.txt": "   \n",
    "binary.txt": "abc\x00def",
}


def _corpus(folder: Path) -> Path:
    """The real seed article and a small corpus (one empty and one binary file among them)."""
    folder.mkdir(parents=True)
    shutil.copy2(SEED_FILE, folder / SEED_FILE.name)
    for name, text in SMALL_CORPUS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _settings(seeds: Path, index: Path, **kw: Any) -> Settings:
    return Settings(seeds_dir=seeds, index_dir=index, _env_file=None, **kw)  # type: ignore[call-arg]


def _contents(index: Path) -> dict[str, Any]:
    """Everything a generation holds that a question reads: rows, vectors, BM25 arrays."""
    gen = store.open_generation(index)
    reader = IndexReader(gen)
    try:
        conn = sqlite3.connect(gen.path / store.META)
        tables = {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
            for name in ("documents", "chunks", "sentences", "sources")
        }
        conn.close()
        bm25 = gen.path / store.BM25_DIR
        return {
            "tables": tables,
            "chunk_vectors": reader.vectors.reconstruct_n(0, reader.vectors.ntotal),
            "sentence_vectors": np.array(reader.sentence_vectors),
            "bm25": {name: np.load(bm25 / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")},
            "vocab": json.loads((bm25 / "vocab.index.json").read_text(encoding="utf-8")),
            "counts": gen.manifest["counts"],
            "faiss": gen.manifest["faiss"],
        }
    finally:
        reader.close()


def _assert_same(a: dict[str, Any], b: dict[str, Any], exact_vectors: bool) -> None:
    assert a["tables"] == b["tables"]
    assert a["counts"] == b["counts"] and a["faiss"] == b["faiss"]
    assert a["vocab"] == b["vocab"]
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(a["bm25"][name], b["bm25"][name]), name
    for name in ("chunk_vectors", "sentence_vectors"):
        if exact_vectors:
            assert np.array_equal(a[name], b[name]), name
        else:  # the model batches texts differently per block: float rounding, nothing more
            x, y = a[name].astype(np.float32), b[name].astype(np.float32)
            assert x.shape == y.shape, name
            cosines = (x * y).sum(axis=1) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-12)
            assert cosines.min() >= 0.999, (name, cosines.min())


def test_streamed_build_equals_a_one_block_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = _corpus(tmp_path / "seeds")
    monkeypatch.setattr(builder, "EMBED_BLOCK", 1_000_000)
    one = builder.build(_settings(seeds, tmp_path / "one"), FakeEmbedder())
    monkeypatch.setattr(builder, "EMBED_BLOCK", 3)
    monkeypatch.setattr(builder, "READ_BATCH", 2)
    many = builder.build(_settings(seeds, tmp_path / "many"), FakeEmbedder())
    assert one.chunks == many.chunks > 2 * 3 and one.sentences == many.sentences
    assert [s.source for s in one.skipped] == [s.source for s in many.skipped] == ["binary.txt", "empty.txt"]
    _assert_same(_contents(tmp_path / "one"), _contents(tmp_path / "many"), exact_vectors=True)


@pytest.mark.slow
def test_streamed_build_equals_a_one_block_build_with_the_real_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Any
) -> None:
    seeds = _corpus(tmp_path / "seeds")
    monkeypatch.setattr(builder, "EMBED_BLOCK", 1_000_000)
    builder.build(_settings(seeds, tmp_path / "one"), embedder)
    monkeypatch.setattr(builder, "EMBED_BLOCK", 5)
    builder.build(_settings(seeds, tmp_path / "many"), embedder)
    one, many = _contents(tmp_path / "one"), _contents(tmp_path / "many")
    _assert_same(one, many, exact_vectors=False)
    # And the same BM25 scores, read back the way a question reads them.
    a = LexicalIndex.load(store.open_generation(tmp_path / "one").path / store.BM25_DIR)
    b = LexicalIndex.load(store.open_generation(tmp_path / "many").path / store.BM25_DIR)
    for question in ("How many missiles were launched?", "capital of France", "Who founded Rome?"):
        ids_a, scores_a = a.search(question, 50)
        ids_b, scores_b = b.search(question, 50)
        assert list(ids_a) == list(ids_b) and np.array_equal(scores_a, scores_b) and len(ids_a)


def test_sources_live_in_sqlite_and_the_manifest_stays_small(tmp_path: Path) -> None:
    seeds = _corpus(tmp_path / "seeds")
    engine = QAEngine.from_settings(_settings(seeds, tmp_path / "index"), embedder=FakeEmbedder())
    gen = store.open_generation(tmp_path / "index")
    manifest = json.loads((gen.path / store.MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest) == {"schema", "generation", "built_at", "seeds_dir", "embedder", "chunker", "faiss", "counts"}
    assert manifest["counts"] == {"documents": 6, "chunks": manifest["counts"]["chunks"],
                                  "sentences": manifest["counts"]["sentences"], "skipped": 2}  # fmt: skip
    rows = store.source_rows(gen, ["animals/cats.md", "binary.txt", "nothing.txt"])
    cats = seeds / "animals/cats.md"
    assert rows["animals/cats.md"]["size"] == cats.stat().st_size
    assert rows["animals/cats.md"]["mtime_ns"] == cats.stat().st_mtime_ns and rows["animals/cats.md"]["skipped"] is None
    assert rows["binary.txt"]["skipped"] == "looks binary (contains NUL bytes)" and "nothing.txt" not in rows
    indexed = sorted(s for s in [SEED_FILE.name, *SMALL_CORPUS] if s not in {"binary.txt", "empty.txt"})
    assert store.indexed_sources(gen) == indexed and engine.info().sources == tuple(indexed)
    assert engine.stale_sources() == []
    # Staleness is read from those rows: a touched-but-equal file is not stale, an edited one is.
    os.utime(cats, ns=(cats.stat().st_atime_ns, cats.stat().st_mtime_ns + 10**9))
    assert engine.stale_sources() == []
    (seeds / "places/rome.txt").write_text("Rome\n\nRome is in Italy.", encoding="utf-8")
    (seeds / "science/water.txt").unlink()
    (seeds / "new.txt").write_text("Something new.", encoding="utf-8")
    assert engine.stale_sources() == ["new.txt", "places/rome.txt", "science/water.txt"]
    # An unchanged folder builds nothing; the report still names the skipped files.
    (seeds / "new.txt").unlink()
    (seeds / "places/rome.txt").write_text(SMALL_CORPUS["places/rome.txt"], encoding="utf-8")
    (seeds / "science/water.txt").write_text(SMALL_CORPUS["science/water.txt"], encoding="utf-8")
    report = engine.build()
    assert report.unchanged and report.generation == gen.name
    assert [s.source for s in report.skipped] == ["binary.txt", "empty.txt"]


def test_an_index_of_the_old_schema_gives_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = _corpus(tmp_path / "seeds")
    index = tmp_path / "index"
    builder.build(_settings(seeds, index), FakeEmbedder())
    manifest_file = store.open_generation(index).path / store.MANIFEST
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["schema"] = 2  # schema 2 kept every source in the manifest
    manifest["sources"] = {"cats.md": {"sha256": "0" * 64, "size": 1, "mtime_ns": 1}}
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(
        IndexMismatch, match=r"schema 2, this qabot reads schema 3: rebuild it with `qabot index build --full`"
    ):
        store.open_generation(index)
    code = main(["ask", "How long do cats sleep?", "--seeds", str(seeds), "--index", str(index)])
    _, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert f"rebuild it with `qabot index build --seeds {seeds} --index {index} --full`" in err
    # Doing what it says works, and so does a plain build (the old generation is not reused).
    report = builder.build(_settings(seeds, index), FakeEmbedder())
    assert not report.unchanged and store.open_generation(index).manifest["schema"] == store.SCHEMA_VERSION


def test_an_interrupted_build_keeps_its_vectors_and_the_next_one_embeds_only_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the third block: the two committed blocks are not embedded again."""
    seeds = _corpus(tmp_path / "seeds")
    settings = _settings(seeds, tmp_path / "index")
    monkeypatch.setattr(builder, "EMBED_BLOCK", 4)
    clean = builder.build(_settings(seeds, tmp_path / "clean"), FakeEmbedder())
    fake = FakeEmbedder()
    committed: list[int] = []
    put = EmbeddingCache.put

    def counting_put(self: EmbeddingCache, vectors: Any, generation: int) -> None:
        put(self, vectors, generation)
        committed.append(fake.embedded)
        if len(committed) == 2:
            fake.fail_after = fake.embedded + 1  # Ctrl-C while embedding the next block

    monkeypatch.setattr(EmbeddingCache, "put", counting_put)
    from qabot.errors import BuildInterrupted

    with pytest.raises(BuildInterrupted, match="vectors embedded so far are kept"):
        builder.build(settings, fake)
    assert store.current_generation(settings.index_dir) is None
    again = FakeEmbedder()
    report = builder.build(settings, again)
    assert report.embedded == again.embedded == clean.embedded - committed[1] > 0
    _assert_same(_contents(tmp_path / "clean"), _contents(settings.index_dir), exact_vectors=True)


def test_the_cache_drops_vectors_no_build_uses_any_more(tmp_path: Path) -> None:
    seeds = _corpus(tmp_path / "seeds")
    settings = _settings(seeds, tmp_path / "index")
    first = builder.build(settings, FakeEmbedder())
    cache = EmbeddingCache(settings.index_dir)
    rows = len(cache)
    cache.close()
    assert 0 < rows <= first.chunks + first.sentences
    (seeds / "animals/cats.md").write_text("# Cats\n\nCats are small.", encoding="utf-8")
    builder.build(settings, FakeEmbedder())
    cache = EmbeddingCache(settings.index_dir)
    after = len(cache)
    cache.close()
    gen = store.open_generation(settings.index_dir).manifest["counts"]
    assert after <= gen["chunks"] + gen["sentences"] < rows + 10
    builder.build(_settings(seeds, settings.index_dir), FakeEmbedder(model_id="other-model"))
    cache = EmbeddingCache(settings.index_dir)
    assert len(cache) <= gen["chunks"] + gen["sentences"]  # the first model's vectors are gone
    cache.close()


def test_a_damaged_cache_is_started_afresh(tmp_path: Path) -> None:
    seeds = _corpus(tmp_path / "seeds")
    settings = _settings(seeds, tmp_path / "index")
    settings.index_dir.mkdir()
    (settings.index_dir / store.EMBEDDING_CACHE).write_bytes(b"this is not a database" * 100)
    report = builder.build(settings, FakeEmbedder())
    assert report.embedded > 0 and store.open_generation(settings.index_dir)


_KILLED_BUILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from qabot import Settings, builder
    from qabot.embedder import SentenceTransformerEmbedder
    from qabot.reuse import EmbeddingCache

    seeds, index, block = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    builder.EMBED_BLOCK = block
    embedded = 0
    inner = SentenceTransformerEmbedder()
    original_embed, original_put = inner.embed_with_spans, EmbeddingCache.put

    def embed_with_spans(texts, spans, batch_size=32, progress=None):
        global embedded
        embedded += len(texts)
        return original_embed(texts, spans, batch_size, progress)

    def put(self, vectors, generation):
        original_put(self, vectors, generation)
        if embedded >= 2 * block:  # two blocks are committed: say so, then wait to be killed
            print(f"COMMITTED {embedded}", flush=True)
            sys.stdin.readline()

    inner.embed_with_spans = embed_with_spans
    EmbeddingCache.put = put
    settings = Settings(seeds_dir=seeds, index_dir=index, _env_file=None)
    builder.build(settings, inner)
    print("FINISHED", flush=True)
    """
)


class _CountingEmbedder:
    """The real embedder, counting the texts that go through the model."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.embedded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_with_spans(self, texts: Any, spans: Any, batch_size: int = 32, progress: Any = None) -> Any:
        self.embedded += len(texts)
        return self._inner.embed_with_spans(texts, spans, batch_size, progress)


@pytest.mark.slow
def test_a_build_killed_with_sigkill_resumes_without_embedding_again(tmp_path: Path, embedder: Any) -> None:
    seeds = _corpus(tmp_path / "seeds")
    index = tmp_path / "index"
    script = tmp_path / "killed_build.py"
    script.write_text(_KILLED_BUILD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, str(script), str(seeds), str(index), "6"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("COMMITTED "), (line, child.stderr.read() if child.stderr else "")
        committed = int(line.split()[1])
        child.send_signal(signal.SIGKILL)  # no cleanup runs: as a power cut to the process
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert store.current_generation(index) is None  # nothing was published
    assert any(p.name.startswith(store.TMP_PREFIX) for p in index.iterdir())  # the partial generation is left

    resumed = _CountingEmbedder(embedder)
    report = builder.build(_settings(seeds, index), resumed)
    clean = _CountingEmbedder(embedder)
    builder.build(_settings(seeds, tmp_path / "clean"), clean)
    assert resumed.embedded == report.embedded == clean.embedded - committed
    assert 0 < resumed.embedded < clean.embedded
    assert not any(p.name.startswith(store.TMP_PREFIX) for p in index.iterdir())  # cleaned up by the next build
    _assert_same(_contents(tmp_path / "clean"), _contents(index), exact_vectors=False)
    answer = QAEngine.from_settings(_settings(seeds, index), embedder=embedder).ask("How many hours do cats sleep?")
    assert not answer.abstained and answer.citations[0].source == "animals/cats.md"
