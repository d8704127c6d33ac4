"""PDF and Word documents: extraction on real files made by the tests, skipped files, pages,
and (slow) questions through `qabot ask --json -` with the real model."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from qabot.loader import SourceFile, list_sources, load_documents, read_document
from qabot.pdf_text import normalize, page_of, read_pdf, table_rows
from qabot.records import Document, SkippedFile

from . import document_files as files


def _read(tmp_path: Path, name: str, data: bytes) -> Document | SkippedFile:
    path = tmp_path / name
    path.write_bytes(data)
    st = path.stat()
    return read_document(SourceFile(name, path, st.st_size, st.st_mtime_ns))


@pytest.fixture(scope="module")
def report() -> Document:
    doc = read_pdf(files.report_pdf())
    return Document("report.pdf", doc.text, "x", doc.page_starts)


def test_pdf_pages_are_recorded_and_map_every_span(report: Document) -> None:
    assert len(report.pages) == 3 and report.pages[0] == 0
    text = report.text
    assert page_of(report.pages, text.index("built in 1871")) == 1
    assert page_of(report.pages, text.index("32 metres tall")) == 2
    assert page_of(report.pages, text.index("Nordic Heritage Fund")) == 3
    assert page_of(report.pages, len(text)) == 3
    # Each page's text starts where it says: the page's first line is there.
    assert text[report.pages[1] :].startswith("The tower is 32 metres tall")
    assert text[report.pages[2] :].startswith("The keeper's cottage")


def test_pdf_two_columns_are_read_left_column_first(report: Document) -> None:
    text = report.text
    assert text.startswith(files.TITLE + "\n\n")
    left = "The lighthouse at Korvik was built in 1871 by the harbour board."
    right = "The society was founded in 1952 to preserve the buildings."
    assert left in text and right in text
    assert text.index("inspectors.") < text.index(right)  # the whole left column comes first


def test_pdf_columns_that_flow_are_read_in_order() -> None:
    text = read_pdf(files.flowing_pdf()).text
    starts = [text.index(f"Paragraph {i}: ") for i in range(12)]
    assert starts == sorted(starts) and text.startswith("Glaciers of Norway\n\n")
    assert text.count(files.FLOWING) >= 10  # whole paragraphs, lines joined in order
    assert text.endswith("Glacier: Jostedalsbreen, Area (km2): 487.\n\nGlacier: Svartisen, Area (km2): 369.")


def test_pdf_paragraph_running_on_to_the_next_page_is_one_paragraph() -> None:
    pdf = read_pdf(files.runon_pdf())
    sentence = "and careful examination of the lens, which was completed before the autumn storms."
    assert sentence in pdf.text and "\n" not in pdf.text.split("The keeper")[0]
    assert page_of(pdf.page_starts, pdf.text.index("careful")) == 1
    assert page_of(pdf.page_starts, pdf.text.index("of the lens")) == 2
    assert pdf.text[pdf.page_starts[1] :].startswith("ination of the lens")


def test_pdf_heading_set_like_the_text_is_its_own_paragraph() -> None:
    text = read_pdf(files.plain_heading_pdf()).text
    assert text.startswith(
        "Finances\n\nThe new boathouse cost 1.2 million euros and opened in May 2025, two months later"
    )
    assert "\n" not in text.split("\n\n", 1)[1]  # the wrapped paragraph stays one paragraph


def test_pdf_hyphenated_line_ends_are_joined_and_ligatures_folded(report: Document) -> None:
    text = report.text
    assert "examination of the lens" in text and "exam-" not in text
    assert "thirty-one years" in text  # a hyphen inside a line stays
    assert "first lit" in text and "floor of the lamp room" in text
    assert "ﬁ" not in text and "ﬂ" not in text


def test_pdf_table_rows_read_with_their_headers(report: Document) -> None:
    assert "Year: 2022, Visitors: 5,870, Revenue: 24,150 euros." in report.text
    assert "Year: 2021, Visitors: 4,210, Revenue: 18,300 euros." in report.text


def test_a_table_row_is_one_sentence(report: Document) -> None:
    from qabot.chunker import paragraph_spans, sentence_spans

    row = "Year: 2022, Visitors: 5,870, Revenue: 24,150 euros."
    paragraph = next(p for p in paragraph_spans(report.text) if report.text[p.start : p.end] == row)
    assert len(sentence_spans(report.text, paragraph)) == 1


def test_docx_headings_paragraphs_and_table_in_order(tmp_path: Path) -> None:
    doc = _read(tmp_path, "guide.docx", files.guide_docx())
    assert isinstance(doc, Document) and doc.pages == ()
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[0] == "Korvik Harbour Guide" and doc.title == "Korvik Harbour Guide"
    assert "The harbour master is Ingrid Solberg. Her office is open from 8 to 16 on weekdays." in paragraphs
    assert "Berth: B, Length: 80 metres, Depth: 6 metres." in paragraphs
    assert paragraphs.index("Berths") < paragraphs.index("Berth: A, Length: 120 metres, Depth: 9 metres.")
    assert paragraphs[-1] == "Diesel is sold at the fuel pier until 20:00 in summer."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("scan.pdf", files.scan_pdf, "no text layer"),
        ("locked.pdf", files.locked_pdf, "encrypted PDF (password needed)"),
        ("broken.pdf", files.broken_pdf, "damaged PDF"),
        ("empty.pdf", lambda: b"", "damaged PDF"),
        ("broken.docx", lambda: b"PK\x03\x04 not a zip", "damaged Word file"),
        ("locked.docx", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "password-protected Word file"),
    ],
)
def test_unusable_files_are_skipped_with_the_reason(tmp_path: Path, name: str, data, reason: str) -> None:  # type: ignore[no-untyped-def]
    result = _read(tmp_path, name, data())
    assert isinstance(result, SkippedFile) and result.source == name
    assert reason in result.reason and "\n" not in result.reason


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_without_a_user_password_is_read(tmp_path: Path, algorithm: str) -> None:
    # Owner restrictions only (printing, copying): opens with an empty password, as viewers do.
    doc = _read(tmp_path, "open.pdf", files.locked_pdf(algorithm, user_password=""))
    assert isinstance(doc, Document) and "Nordic Heritage Fund" in doc.text and len(doc.pages) == 3


def test_a_build_goes_on_past_unusable_files(tmp_path: Path) -> None:
    seeds = files.write_all(tmp_path / "seeds")
    (seeds / "notes.txt").write_text("Plain notes.\n", encoding="utf-8")
    names = [f.source for f in list_sources(seeds)]
    assert {"report.pdf", "guide.docx", "scan.pdf", "notes.txt"} <= set(names)
    docs, skipped = load_documents(seeds)
    assert [d.source for d in docs] == ["guide.docx", "notes.txt", "report.pdf"]
    assert {s.source for s in skipped} == {"scan.pdf", "locked.pdf", "broken.pdf", "broken.docx"}


def test_upper_case_suffixes_are_read(tmp_path: Path) -> None:
    doc = _read(tmp_path, "REPORT.PDF", files.report_pdf())
    assert isinstance(doc, Document) and len(doc.pages) == 3


def test_normalize_and_table_rows() -> None:
    assert normalize("ﬁve ﬂat\u00adtened\x07  words") == "five flattened words"
    assert table_rows([["Name", "Age"], ["Ada", "36"]]) == ["Name: Ada, Age: 36."]
    assert table_rows([["a", ""], ["a", "b"]]) == ["a", "a | b"]  # no usable header: cells with bars
    assert page_of((0, 10, 10, 30), 12) == 3 and page_of((0, 10, 10, 30), 0) == 1


# ---- with the real model ---------------------------------------------------------------
QUESTIONS = [
    ("When was the lighthouse at Korvik built?", "1871", "report.pdf", 1),
    ("How many members does the society have?", "340 members", "report.pdf", 1),
    ("How many visitors came in 2022?", "Year: 2022, Visitors: 5,870", "report.pdf", 1),  # the whole row
    ("How deep is berth A?", "Berth: A, Length: 120 metres, Depth: 9 metres.", "guide.docx", None),
    ("How tall is the tower?", "32 metres", "report.pdf", 2),
    ("Who paid for the restoration of the keeper's cottage?", "Nordic Heritage Fund", "report.pdf", 3),
    ("Who is the harbour master?", "Ingrid Solberg", "guide.docx", None),
    ("How deep is berth B?", "6 metres", "guide.docx", None),
]


@pytest.fixture(scope="module")
def built_formats(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from qabot.cli import main

    base = tmp_path_factory.mktemp("formats")
    seeds = files.write_all(base / "seeds")
    assert main(["index", "build", "--seeds", str(seeds), "--index", str(base / "index")]) == 0
    return seeds, base / "index"


@pytest.mark.slow
def test_pdf_and_word_questions_through_ask_json_stdin(
    built_formats: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qabot.cli import main
    from qabot.engine import QAEngine
    from qabot.settings import Settings

    seeds, index = built_formats
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(q + "\n" for q, *_ in QUESTIONS)))
    assert main(["ask", "--json", "-", "--seeds", str(seeds), "--index", str(index)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(QUESTIONS)
    engine = QAEngine(Settings(seeds_dir=seeds, index_dir=index, _env_file=None))  # type: ignore[call-arg]
    engine.reload(force=True)
    for row, (_, expected, source, page) in zip(rows, QUESTIONS, strict=True):
        assert not row["abstained"] and expected in row["answer"], row
        first = row["citations"][0]
        assert first["source"] == source and first["page"] == page, row
        for cite in row["citations"]:
            stored = engine.document_text(cite["source"])
            assert stored is not None and stored[cite["start"] : cite["end"]] == cite["text"]
            assert (cite["page"] is None) == (not cite["source"].endswith(".pdf"))


@pytest.mark.slow
def test_build_names_skipped_files_and_terminal_shows_pages(
    built_formats: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from qabot.cli import main

    seeds, index = built_formats
    capsys.readouterr()
    assert main(["index", "build", "--seeds", str(seeds), "--index", str(index)]) == 0
    out = capsys.readouterr().out
    for name in ("scan.pdf", "locked.pdf", "broken.pdf", "broken.docx"):
        assert f"skipped {name}:" in out
    assert main(["ask", "How tall is the tower?", "--seeds", str(seeds), "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "report.pdf p. 2 (" in out


def test_discord_source_lines_name_the_page() -> None:
    from qabot.bot.format import span_label
    from qabot.records import Citation

    assert span_label(Citation("report.pdf", 10, 20, "x" * 10, 1.0, page=3)) == "p. 3 · chars 10–20"
    assert span_label(Citation("notes.txt", 10, 20, "x" * 10, 1.0)) == "chars 10–20"
    assert Citation("report.pdf", 0, 1, "x", 1.0, page=3).where == "report.pdf p. 3"


def test_a_new_extraction_version_rebuilds_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qabot import builder
    from qabot.settings import Settings

    from .fakes import FakeEmbedder

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "guide.docx").write_bytes(files.guide_docx())
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None).resolved()  # type: ignore[call-arg]
    assert not builder.build(settings, FakeEmbedder()).unchanged
    assert builder.build(settings, FakeEmbedder()).unchanged
    monkeypatch.setattr(builder, "EXTRACTION_VERSION", builder.EXTRACTION_VERSION + 1)
    assert not builder.build(settings, FakeEmbedder()).unchanged  # the same bytes, read again
