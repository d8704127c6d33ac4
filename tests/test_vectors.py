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
    assert float(index.reconstruct(42) @ data[42]) > 0.99  # needs the id -> list map


def test_the_ivf_id_map_is_written_by_the_build_and_read_back_not_remade(tmp_path: Path) -> None:
    """A cold `qabot ask` reads the id -> list map from the file instead of walking every list."""
    import faiss

    data = _unit_rows(3000, 32)
    path = tmp_path / "v.faiss"
    vectors.save_index(vectors.build_index(data, "IVF16,SQ8"), path)
    plain = faiss.extract_index_ivf(faiss.read_index(str(path)))
    assert plain.direct_map.type == faiss.DirectMap.Array  # in the file itself
    made = []
    monkey = faiss.IndexIVF.make_direct_map
    try:
        faiss.IndexIVF.make_direct_map = lambda self, *a: made.append(1)  # type: ignore[method-assign]
        index = vectors.load_index(path)
    finally:
        faiss.IndexIVF.make_direct_map = monkey  # type: ignore[method-assign]
    assert made == []
    assert float(index.reconstruct(2999) @ data[2999]) > 0.99


def test_each_kind_is_read_memory_mapped_in_one_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flat index maps its codes (IO_FLAG_MMAP_IFC); an IVF index maps its lists without it, at
    once (it would refuse IFC only after reading its quantizer); a file of neither kind still loads."""
    import faiss

    flags: list[int] = []
    read = faiss.read_index

    def counted(path: str, io_flags: int = 0) -> object:
        flags.append(io_flags)
        return read(path, io_flags)

    monkeypatch.setattr(faiss, "read_index", counted)
    mapped = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY
    data = _unit_rows(3000, 32)
    for kind, want in (("IVF16,SQ8", [mapped]), ("Flat", [mapped | faiss.IO_FLAG_MMAP_IFC])):
        path = tmp_path / f"{kind}.faiss"
        vectors.save_index(vectors.build_index(data, kind), path)
        flags.clear()
        index = vectors.load_index(path)
        assert flags == want, kind
        assert vectors.search(index, data[9], 1)[0][0] == 9
    with pytest.raises(RuntimeError):
        vectors.load_index(tmp_path / "missing.faiss")  # every attempt fails: FAISS's own error


def test_an_ivf_index_written_without_the_id_map_still_gives_back_vectors(tmp_path: Path) -> None:
    """Indexes built before the map was stored: load_index makes it when the file has none."""
    import faiss

    data = _unit_rows(3000, 32)
    index = vectors.build_index(data, "IVF16,SQ8")
    faiss.extract_index_ivf(index).set_direct_map_type(faiss.DirectMap.NoMap)
    path = tmp_path / "old.faiss"
    vectors.save_index(index, path)
    assert faiss.extract_index_ivf(faiss.read_index(str(path))).direct_map.type == faiss.DirectMap.NoMap
    loaded = vectors.load_index(path)
    assert float(loaded.reconstruct(7) @ data[7]) > 0.99


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
