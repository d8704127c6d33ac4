"""Reading the seeds folder: formats, recursion, and files that must be skipped by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from qabot.errors import SourceError
from qabot.loader import list_sources, load_documents


def test_reads_txt_md_html_recursively_and_skips_bad_files(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "a.txt").write_bytes(b"Line one.\r\n\r\nLine two.\n")
    (tmp_path / "sub" / "b.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    (tmp_path / "sub" / "deeper" / "c.html").write_text(
        "<html><head><title>Page</title><script>x=1</script></head><body><p>Hello <b>there</b>.</p></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.md").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "ignored.pdfx").write_text("nope", encoding="utf-8")
    docs, skipped = load_documents(tmp_path)
    assert [d.source for d in docs] == ["a.txt", "sub/b.md", "sub/deeper/c.html"]
    # .txt is kept exactly as open(newline="") reads it: \r\n survives.
    assert docs[0].text == (tmp_path / "a.txt").open(encoding="utf-8", newline="").read()
    assert "\r\n" in docs[0].text
    assert docs[2].text == "Page\n\nHello there."
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "latin1.txt", "empty.md"}
    assert "binary" in reasons["binary.txt"] and "UTF-8" in reasons["latin1.txt"] and "empty" in reasons["empty.md"]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_documents(tmp_path / "nope")


def test_a_file_instead_of_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    with pytest.raises(SourceError, match="not a folder"):
        load_documents(tmp_path / "f.txt")


def test_links_outside_the_folder_and_utf16_files(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (tmp_path / "secret.txt").write_text("The vault key is 1234.", encoding="utf-8")
    (seeds / "inside.txt").write_text("Inside text.", encoding="utf-8")
    (seeds / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (seeds / "link_in.txt").symlink_to(seeds / "inside.txt")
    (seeds / "wide.txt").write_bytes("hello".encode("utf-16"))
    docs, skipped = load_documents(seeds)
    assert [d.source for d in docs] == ["inside.txt", "link_in.txt"]
    assert [(s.source, "UTF-16" in s.reason) for s in skipped] == [("wide.txt", True)]


def test_link_loops_broken_links_and_pipes_are_not_documents(tmp_path: Path) -> None:
    import os

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "real.md").write_text("# Real\n\nA real document.", encoding="utf-8")
    (seeds / "loop.md").symlink_to(seeds / "loop.md")  # resolves to itself
    (seeds / "a.txt").symlink_to(seeds / "b.txt")
    (seeds / "b.txt").symlink_to(seeds / "a.txt")  # a loop of two
    (seeds / "gone.txt").symlink_to(seeds / "missing.txt")
    os.mkfifo(seeds / "pipe.txt")  # reading it would block forever
    assert [f.source for f in list_sources(seeds)] == ["real.md"]
