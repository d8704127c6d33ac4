"""A cited span in its context, read from the index: what `qabot show` and the REPL's `:show N` print.

The text is the one the citation offsets index: the file's own characters for .txt and .md,
the extracted text stored in the index for .html, .pdf and .docx.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from . import store
from .errors import SourceError
from .pdf_text import page_of

_TARGET = re.compile(r"^(?P<source>.+):(?P<start>\d+)-(?P<end>\d+)$")
_PDF_TARGET = re.compile(r"^(?P<source>.+) p\. \d+ \((?P<start>\d+)-(?P<end>\d+)\)$")  # `report.pdf p. 3 (852-973)`


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A window of a document's text, with the cited span (document offsets) inside it."""

    source: str
    text: str  # the window shown
    offset: int  # where `text` begins in the document
    length: int  # characters in the whole document
    span: tuple[int, int] | None  # the cited [start, end), or None to show the whole document
    pages: tuple[int, ...]  # a PDF's page starts (document offsets); () for other formats

    @property
    def page(self) -> int | None:
        """The page the span starts on (a PDF with a span), else None."""
        if not self.pages or self.span is None:
            return None
        return page_of(self.pages, self.span[0])

    @property
    def clipped_before(self) -> bool:
        return self.offset > 0

    @property
    def clipped_after(self) -> bool:
        return self.offset + len(self.text) < self.length


def parse_target(target: str) -> tuple[str, tuple[int, int] | None]:
    """`SOURCE`, `SOURCE:START-END` or `report.pdf p. 3 (852-973)` (as source lines print them) to (source, span)."""
    target = target.strip()
    match = _TARGET.match(target) or _PDF_TARGET.match(target)
    if match is None:
        return target, None
    return match["source"], (int(match["start"]), int(match["end"]))


def make_excerpt(
    source: str, text: str, span: tuple[int, int] | None, context: int, pages: tuple[int, ...] = ()
) -> Excerpt:
    """The span with about `context` characters either side (cut at white space); the whole text without a span."""
    if span is None:
        return Excerpt(source, text, 0, len(text), None, pages)
    start, end = span
    if not 0 <= start < end <= len(text):
        raise SourceError(
            f"Span {start}-{end} is not in {source} (its text has {len(text):,} characters): "
            f"give START-END with 0 <= START < END <= {len(text)}."
        )
    lo = max(0, start - context)
    hi = min(len(text), end + context)
    if lo > 0 and not text[lo - 1].isspace():  # begin after a white space, so no word is cut
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text) and not text[hi].isspace():
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    return Excerpt(source, text[lo:hi], lo, len(text), span, pages)


def stored_document(index_dir: Path, source: str) -> tuple[str, tuple[int, ...]]:
    """(text, PDF page starts) of `source` as stored in the index in use; a one-line error if unknown."""
    generation = store.open_generation(index_dir)
    conn = store.connect(generation.path / store.META)
    try:
        row = conn.execute("SELECT id, text FROM documents WHERE source = ?", (source,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT source FROM documents")]
            close = (
                difflib.get_close_matches(source, known, n=1)
                or [k for k in known if k.rsplit("/", 1)[-1] == source.rsplit("/", 1)[-1]][:1]
            )
            hint = f" Did you mean {close[0]}?" if close else " `qabot index status` lists what is indexed."
            raise SourceError(f"No source {source!r} in the index {index_dir}.{hint}")
        try:
            pages = tuple(
                int(r[0]) for r in conn.execute("SELECT start FROM pages WHERE doc_id = ? ORDER BY page", (row[0],))
            )
        except sqlite3.OperationalError:  # an index built before page starts were recorded
            pages = ()
        return row[1], pages
    finally:
        conn.close()
