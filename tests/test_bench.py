"""The benchmark's smoke test: a tiny index built with the fake embedder, the search part run
end to end through `python -m benchmarks --json`, and the JSON keys every part reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmarks.__main__ as bench
from qabot.builder import build
from qabot.settings import Settings
from tests.conftest import SEED_FILE
from tests.fakes import FakeEmbedder


@pytest.fixture()
def tiny_index(tmp_path: Path) -> tuple[Path, Path]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "seed.txt").write_text(SEED_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    (seeds / "other.txt").write_text(
        "Mount Everest is 8,848.86 m tall.\n\nIt lies in the Himalayas.\n", encoding="utf-8"
    )
    index = tmp_path / "index"
    settings = Settings(seeds_dir=seeds, index_dir=index, _env_file=None)  # type: ignore[call-arg]
    build(settings, FakeEmbedder())
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "how tall is everest", "answers": ["8,848.86"], "evidence": "other.txt"}) + "\n",
        encoding="utf-8",
    )
    return index, questions


def test_search_part_json(tiny_index: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    index, questions = tiny_index
    argv = ["--quick", "--json", "--only", "search", "--sizes", "3000,5000", "--no-search-questions"]
    argv += ["--large-index", str(index), "--wiki-questions", str(questions)]
    assert bench.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("machine", "options", "targets", *bench.PARTS):
        assert key in result
    assert result["build"] is None and result["langchain"] is None  # parts not asked for
    search = result["search"]
    assert set(search["sizes"]) == {"3000", "5000"}
    for m in search["sizes"].values():
        assert {"kind", "search_p50_ms", "search_p95_ms", "recall_at_10", "index_mb", "bytes_per_vector"} <= set(m)
        assert m["kind"] == "Flat" and m["recall_at_10"] == 1.0  # exact at this size
    assert set(result["targets"]) >= {"search_recall_at_10", "search_ms", "vector_mb", "build_vs_raw", "cold_ask_s"}
    assert result["targets"]["search_recall_at_10"]["met"] is True
    table = bench.render_table(result)
    assert "recall@10" in table and "5,000" in table


def test_perturbed_vectors_stay_real() -> None:
    """Copies are close to, but not equal to, the real vectors they come from; all unit length."""
    import numpy as np

    from benchmarks.search import perturbed

    rng = np.random.default_rng(0)
    base = rng.standard_normal((50, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    out = perturbed(base, 200, rng)
    assert out.shape == (200, 32)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(out[:50], base)
    cos = np.sum(out[50:100] * base, axis=1)
    assert cos.min() > 0.8
    assert cos.max() < 1.0


@pytest.mark.slow
def test_scale_bench_grows_a_real_index_that_answers(seed_settings, seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """bench_scale: altered copies of a real index's documents, replayed vectors, a working engine."""

    from benchmarks import scale as bench_scale
    from qabot import store

    out = tmp_path / "scaled"
    info = bench_scale.build_scaled(seed_settings.index_dir, seed_settings.seeds_dir, out, 100)
    assert info["chunks"] >= 100 and info["documents"] >= 7 and info["faiss"] == "Flat"
    gen = store.open_generation(out)
    conn = store.connect(gen.path / store.META)
    try:
        texts = [t for (t,) in conn.execute("SELECT text FROM documents ORDER BY id")]
    finally:
        conn.close()
    assert len(set(texts)) == len(texts)  # every copy's words differ from the original's
    import numpy as np

    seed_gen = store.open_generation(seed_settings.index_dir)
    original = np.load(seed_gen.path / store.SENTENCE_VECTORS)
    scaled = np.load(gen.path / store.SENTENCE_VECTORS)
    assert np.array_equal(scaled[: len(original)], original)  # the original keeps its own vectors
    copy = scaled[len(original) : 2 * len(original)].astype(np.float32)
    cos = np.sum(copy * original.astype(np.float32), axis=1)
    # Near the original, and not equal (a chunk whose words all survived is the same text: same vector).
    assert cos.min() > 0.8 and float(np.median(cos)) < 0.999
    assert all(len(t) == len(texts[0]) for t in texts)  # same length: every span stays valid
    measured = bench_scale.measure(seed_settings.seeds_dir, out, ["How many missiles were launched?"], 3)
    assert measured["chunks"] == info["chunks"] and measured["p50_ms"] > 0
