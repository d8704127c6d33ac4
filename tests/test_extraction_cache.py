"""PDF and Word text is extracted once per content: real files made by the tests, extractions counted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from qabot import builder, docx_text, pdf_text, store
from qabot.extraction_cache import EXTRACTION_CACHE, ExtractionCache
from qabot.records import Document
from qabot.settings import Settings

from . import document_files as files
from .fakes import FakeEmbedder


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the real extractions (the loader imports the readers at each call)."""
    counts: Counter[str] = Counter()
    real_pdf, real_docx = pdf_text.read_pdf, docx_text.read_docx

    def read_pdf(raw: bytes) -> pdf_text.PdfText:
        counts["pdf"] += 1
        return real_pdf(raw)

    def read_docx(raw: bytes) -> str:
        counts["docx"] += 1
        return real_docx(raw)

    monkeypatch.setattr(pdf_text, "read_pdf", read_pdf)
    monkeypatch.setattr(docx_text, "read_docx", read_docx)
    return counts


def _settings(tmp_path: Path) -> Settings:
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "report.pdf").write_bytes(files.report_pdf())
    (seeds / "guide.docx").write_bytes(files.guide_docx())
    (seeds / "notes.txt").write_text("The harbour opens at six.\n", encoding="utf-8")
    return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None).resolved()  # type: ignore[call-arg]


def _texts(settings: Settings) -> dict[str, tuple[str, list[int]]]:
    """Each document's text and page starts as the index stores them."""
    gen = store.open_generation(settings.index_dir)
    conn = store.connect(gen.path / store.META)
    try:
        rows = conn.execute("SELECT id, source, text FROM documents ORDER BY source").fetchall()
        pages = conn.execute("SELECT doc_id, start FROM pages ORDER BY doc_id, page").fetchall()
    finally:
        conn.close()
    return {source: (text, [start for doc, start in pages if doc == doc_id]) for doc_id, source, text in rows}


def test_unchanged_pdf_and_docx_are_not_extracted_again(tmp_path: Path, extractions: Counter[str]) -> None:
    settings = _settings(tmp_path)
    first = builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 1, "docx": 1}
    assert (settings.index_dir / EXTRACTION_CACHE).exists()
    before = _texts(settings)
    # Another file changes: every file is read again, but the PDF and the Word file come from the cache.
    (settings.seeds_dir / "notes.txt").write_text("The harbour opens at seven.\n", encoding="utf-8")
    second = builder.build(settings, FakeEmbedder())
    assert not second.unchanged and second.generation != first.generation
    assert extractions == {"pdf": 1, "docx": 1}
    after = _texts(settings)
    assert after["report.pdf"] == before["report.pdf"] and after["guide.docx"] == before["guide.docx"]
    assert len(after["report.pdf"][1]) == 3  # the page starts come back too
    # The same bytes under another name are the same content: still not extracted.
    (settings.seeds_dir / "copy.pdf").write_bytes((settings.seeds_dir / "report.pdf").read_bytes())
    builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 1, "docx": 1}


def test_cached_pdf_keeps_its_pages_and_exact_citations(tmp_path: Path, extractions: Counter[str]) -> None:
    from qabot.loader import SourceFile, read_document

    path = tmp_path / "report.pdf"
    path.write_bytes(files.report_pdf())
    source = SourceFile("report.pdf", path, path.stat().st_size, path.stat().st_mtime_ns)
    with ExtractionCache(tmp_path, version=7) as cache:
        fresh = read_document(source, cache)
    with ExtractionCache(tmp_path, version=7) as cache:
        cached = read_document(source, cache)
        assert cache.extractions == 0 and len(cache) == 1
    assert isinstance(fresh, Document) and isinstance(cached, Document)
    assert cached == fresh and len(cached.pages) == 3
    assert extractions["pdf"] == 1


def test_changed_bytes_or_extraction_version_extract_again(
    tmp_path: Path, extractions: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 1, "docx": 1}
    (settings.seeds_dir / "report.pdf").write_bytes(files.flowing_pdf())  # new content
    builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 2, "docx": 1}
    with ExtractionCache(settings.index_dir, builder.EXTRACTION_VERSION) as cache:
        assert len(cache) == 2  # the old PDF's text was dropped after the build was published
    monkeypatch.setattr(builder, "EXTRACTION_VERSION", builder.EXTRACTION_VERSION + 1)
    builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 3, "docx": 2}  # the same bytes, read again by the new extraction
    builder.build(settings, FakeEmbedder(), full=True)  # --full reads every file again
    assert extractions == {"pdf": 4, "docx": 3}


def test_a_damaged_cache_is_started_afresh(tmp_path: Path, extractions: Counter[str]) -> None:
    settings = _settings(tmp_path)
    builder.build(settings, FakeEmbedder())
    (settings.index_dir / EXTRACTION_CACHE).write_bytes(b"this is not a database" * 100)
    (settings.seeds_dir / "notes.txt").write_text("The harbour opens at seven.\n", encoding="utf-8")
    report = builder.build(settings, FakeEmbedder())
    assert report.documents == 3 and extractions == {"pdf": 2, "docx": 2}
    (settings.seeds_dir / "notes.txt").write_text("The harbour opens at eight.\n", encoding="utf-8")
    builder.build(settings, FakeEmbedder())
    assert extractions == {"pdf": 2, "docx": 2}  # the new cache works


def test_text_only_folders_get_no_cache_file(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "notes.txt").write_text("The harbour opens at six.\n", encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None).resolved()  # type: ignore[call-arg]
    builder.build(settings, FakeEmbedder())
    assert not (settings.index_dir / EXTRACTION_CACHE).exists()
