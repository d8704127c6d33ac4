"""`qabot show SOURCE[:START-END]` and the REPL's `:show N`: the cited span in its document's
stored text, highlighted, with context; one-line errors for unknown sources and bad spans."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

from qabot import Settings
from qabot.builder import build
from qabot.cli import main
from qabot.errors import SourceError
from qabot.excerpt import make_excerpt, parse_target, stored_document

from . import document_files as files
from .fakes import FakeEmbedder

HTML = (
    "<html><head><title>Markup [bold]test[/bold]</title></head><body><p>Plain [red]words[/red] here.</p></body></html>"
)


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """report.pdf, guide.docx and an HTML page with rich markup in its text, indexed (fake embedder)."""
    base = tmp_path_factory.mktemp("show")
    seeds = base / "seeds"
    seeds.mkdir()
    (seeds / "report.pdf").write_bytes(files.report_pdf())
    (seeds / "guide.docx").write_bytes(files.guide_docx())
    (seeds / "page.html").write_text(HTML, encoding="utf-8")
    (seeds / "notes.txt").write_text("Line one.\n\nEscape \x1b[31mred\x1b[0m gone.\n", encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=base / "index", _env_file=None)  # type: ignore[call-arg]
    build(settings.resolved(), FakeEmbedder())
    return seeds, base / "index"


def _show(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["show", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_target() -> None:
    assert parse_target("report.pdf:10-20") == ("report.pdf", (10, 20))
    assert parse_target("dir/a:b.txt:0-5") == ("dir/a:b.txt", (0, 5))
    assert parse_target(" guide.docx ") == ("guide.docx", None)
    assert parse_target("odd:name.txt") == ("odd:name.txt", None)
    assert parse_target("dir/report.pdf p. 3 (852-973)") == ("dir/report.pdf", (852, 973))


def test_excerpt_context_cut_at_white_space() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    ex = make_excerpt("t.txt", text, (17, 22), context=8)  # "delta"
    assert ex.text == "gamma delta epsilon"
    assert ex.offset == text.index("gamma") and ex.clipped_before and ex.clipped_after
    whole = make_excerpt("t.txt", text, None, context=8)
    assert whole.text == text and not whole.clipped_before and not whole.clipped_after
    for bad in [(5, 5), (-1, 3), (40, 99), (9, 3)]:
        with pytest.raises(SourceError, match=r"is not in t\.txt"):
            make_excerpt("t.txt", text, bad, context=8)


def test_show_pdf_span_with_page_and_highlight(
    fake_index: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, index = fake_index
    text, _pages = stored_document(index, "report.pdf")
    start = text.index("The tower is 32 metres tall")
    end = start + len("The tower is 32 metres tall")
    code, out, _ = _show([f"report.pdf:{start}-{end}", "--index", str(index), "-C", "40"], capsys)
    assert code == 0
    head, body = out.split("\n", 1)
    assert head.startswith("report.pdf p. 2") and f"{start}-{end}" in head
    assert "── p. 2 ──" in body and "The tower is 32 metres tall" in body
    assert "24,150 euros" in body and "Nordic" not in body  # 40 characters either side, not the whole text


def test_show_highlights_the_span_only(fake_index: tuple[Path, Path]) -> None:
    from qabot.cli.render import print_excerpt

    _, index = fake_index
    text, pages = stored_document(index, "guide.docx")
    start = text.index("Ingrid Solberg")
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=300)
    print_excerpt(console, make_excerpt("guide.docx", text, (start, start + 14), 30, pages))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    marked = out.split("\x1b[")
    styled = [part for part in marked if "Ingrid Solberg" in part]
    assert styled and styled[0].split("m", 1)[1] == "Ingrid Solberg"  # the span alone carries the style
    assert "harbour master is " in out


def test_show_whole_document_without_span(fake_index: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, index = fake_index
    code, out, _ = _show(["guide.docx", "--index", str(index)], capsys)
    assert code == 0
    assert "Korvik Harbour Guide" in out and "Diesel is sold at the fuel pier" in out
    assert "Berth: B, Length: 80 metres, Depth: 6 metres." in out


def test_show_never_reads_markup_or_escapes_from_documents(
    fake_index: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, index = fake_index
    code, out, _ = _show(["page.html", "--index", str(index)], capsys)
    assert code == 0 and "Markup [bold]test[/bold]" in out and "Plain [red]words[/red] here." in out
    code, out, _ = _show(["notes.txt:11-31", "--index", str(index)], capsys)
    assert code == 0 and "\x1b" not in out and "[31mred" in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("reprot.pdf:0-5", "No source 'reprot.pdf' in the index"),
        ("zzzz.md", "`qabot index status` lists what is indexed"),
        ("report.pdf:5-2", "Span 5-2 is not in report.pdf"),
        ("guide.docx:0-999999", "Span 0-999999 is not in guide.docx"),
    ],
)
def test_show_errors_are_one_line(
    fake_index: tuple[Path, Path], capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    _, index = fake_index
    code, out, err = _show([target, "--index", str(index)], capsys)
    assert code == 1 and out == ""
    assert err.startswith("qabot: ") and message in err and err.count("\n") == 1


def test_show_without_an_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _show(["a.txt", "--index", str(tmp_path / "none")], capsys)
    assert code == 1 and "qabot index build" in err


def test_show_context_flag_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["show", "a.txt", "-C", "-3"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_repl_show_citation(seed_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from qabot.cli.repl import run_repl

    script = ":show 1\nHow many missiles failed?\n:show 1\n:show 99\n:show x\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    buffer = io.StringIO()
    assert run_repl(seed_engine, Console(file=buffer, width=300, color_system=None)) == 0
    out = buffer.getvalue()
    assert "No citations yet" in out
    assert "000_1e0f96428eb82f3b.txt  852-973 of" in out  # the heading of :show 1
    assert out.count("four failed mid-flight") >= 3  # the answer, its source line, and :show's text
    assert "Give a citation number from 1 to" in out
