"""The text of a PDF, in reading order, with where each page starts.

pypdf reports each run of text with its position on the page; from those runs this module
rebuilds lines, puts two-column pages in reading order (left column, then right), turns
table rows into "Header: cell, Header: cell" lines, joins words hyphenated at a line end
("exam-" + "ple" = "example"), and folds ligatures ("ﬁ" -> "fi") with NFKC. Lines of one
paragraph are joined with a space; paragraphs, headings and table rows are separated by a
blank line, pages too. The result is extracted once, at build time, and stored in the
index: every citation offset refers to it.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from .errors import DocumentUnreadable

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u00ad\ufeff]")  # soft hyphens and control characters
_SPACES = re.compile(r"[ \t\u00a0]+")
_HYPHEN_END = re.compile(r"[^\W\d_]-$")
_CLOSED = re.compile(r"[.!?:;\"”’)\]…]$")


@dataclass(frozen=True, slots=True)
class PdfText:
    text: str
    page_starts: tuple[int, ...]  # offset in `text` where page i+1 begins


@dataclass(slots=True)
class _Line:
    y: float
    size: float
    cells: list[tuple[float, str, float]] = field(default_factory=list)  # (x, text, own baseline), left to right

    @property
    def text(self) -> str:
        return " ".join(c[1] for c in self.cells)

    @staticmethod
    def of(cells: list[tuple[float, str, float]], size: float) -> _Line:
        """A line of some of another line's cells, at their own height (columns need not be level)."""
        return _Line(max(c[2] for c in cells), size, cells)


def normalize(text: str) -> str:
    """NFKC (ligatures, compatibility forms), no control characters or soft hyphens, single spaces."""
    return _SPACES.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFKC", text)))


def read_pdf(data: bytes) -> PdfText:
    """The document text of a PDF, or DocumentUnreadable with the reason."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported as skipped, not logged
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # a file with an owner password only opens with an empty one
            except (DependencyError, NotImplementedError) as exc:
                raise DocumentUnreadable(f"is an encrypted PDF this install cannot decrypt ({exc})") from exc
            if not opened:
                raise DocumentUnreadable("is an encrypted PDF (password needed): save a copy without the password")
        pages = [_page_text(page) for page in reader.pages]
    except DocumentUnreadable:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentUnreadable("is an encrypted PDF (password needed): save a copy without the password") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise DocumentUnreadable(
            f"is a damaged PDF ({type(exc).__name__}): open and save it again, or remove it"
        ) from exc
    except Exception as exc:
        raise DocumentUnreadable(
            f"is a damaged PDF ({type(exc).__name__}): open and save it again, or remove it"
        ) from exc
    if not pages:
        raise DocumentUnreadable("is a PDF with no pages")
    if not any(p.strip() for p in pages):
        raise DocumentUnreadable(
            "is a PDF with no text layer (a scan?): run OCR on it (e.g. ocrmypdf) and add the result"
        )
    text = ""
    starts: list[int] = []
    for page in pages:
        if page and text:
            if not _runs_on(text.rsplit("\n\n", 1)[-1], page.split("\n\n", 1)[0]):
                text += "\n\n"
            elif _HYPHEN_END.search(text):
                text = text[:-1]  # "exam-" at the foot of a page, "ple" at the top of the next
            else:
                text += " "
        starts.append(len(text))
        text += page
    return PdfText(text, tuple(starts))


def page_of(page_starts: tuple[int, ...] | list[int], offset: int) -> int:
    """1-based number of the page holding character `offset`."""
    import bisect

    return max(1, bisect.bisect_right(list(page_starts), offset))


def _page_text(page: object) -> str:
    runs: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(cm[3]) or 1.0
        for i, piece in enumerate(text.split("\n")):
            if piece.strip():
                runs.append((x, y - i * size * scale * 1.2, size * scale, piece))

    plain = page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    if not runs:
        return _paragraphs_from_plain(plain or "")
    width = float(page.mediabox.width)  # type: ignore[attr-defined]
    return _layout(_lines(runs), width)


def _paragraphs_from_plain(text: str) -> str:
    """Fallback when pypdf gives no positions: its own line order, lines joined."""
    lines = [normalize(line).strip() for line in text.splitlines()]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(_join_lines(current))
            current = []
    return "\n\n".join(paragraphs)


def _lines(runs: list[tuple[float, float, float, str]]) -> list[_Line]:
    """Runs on the same baseline (within a third of the font size) form one line."""
    lines: list[_Line] = []
    for x, y, size, text in sorted(runs, key=lambda r: (-r[1], r[0])):
        text = normalize(text).strip()
        if not text:
            continue
        if lines and abs(lines[-1].y - y) <= max(1.0, 0.3 * min(size, lines[-1].size)):
            lines[-1].cells.append((x, text, y))
        else:
            lines.append(_Line(y, size, [(x, text, y)]))
    for line in lines:
        line.cells.sort()
    return lines


def _column_boundary(lines: list[_Line], width: float) -> float | None:
    """The x where a second column of prose starts, if the page has two columns.

    Judged from where lines of prose (20+ characters) start, not from baselines, so columns
    whose lines are not level with each other are found too.
    """
    starts = [c[0] for line in lines for c in line.cells if len(c[1]) >= 20]
    if len(starts) < 6:
        return None
    votes = Counter(round(x / 4) for x in starts if 0.3 * width <= x <= 0.7 * width)
    if not votes:
        return None
    key, count = votes.most_common(1)[0]
    left = sum(1 for x in starts if x < key * 4 - 4)
    if count < 3 or count < 0.2 * len(starts) or left < 0.2 * len(starts):
        return None
    return key * 4.0


def _layout(lines: list[_Line], width: float) -> str:
    """The page's lines (top to bottom) as paragraphs in reading order."""
    boundary = _column_boundary(lines, width)
    body = statistics.median(line.size for line in lines)
    blocks: list[str] = []
    if boundary is None:
        _add_blocks(blocks, lines, body)
        return "\n\n".join(_joined_runons(blocks))
    cut = boundary - 4
    left_lengths = [len(c[1]) for ln in lines for c in ln.cells if c[0] < cut]
    wide = 1.5 * statistics.median(left_lengths) if left_lengths else float("inf")
    left: list[_Line] = []
    right: list[_Line] = []
    across: list[_Line] = []  # lines that span both columns (a title, a wide table, text after the columns)
    for line in lines:
        lhs = [c for c in line.cells if c[0] < cut]
        rhs = [c for c in line.cells if c[0] >= cut]
        # Cells on both sides are two columns' lines when the left one is a line of prose, or it
        # follows one closely (a paragraph's last line), or the right one starts at the column;
        # otherwise they are one row across (a wide table).
        mid_column = bool(left) and len(left[-1].text) >= 20 and left[-1].y - line.y <= 2 * body
        columns = len(lhs) == 1 and (
            len(lhs[0][1]) >= 20 or mid_column or (len(rhs) == 1 and abs(rhs[0][0] - boundary) <= 4)
        )
        spans = (lhs and rhs and not columns) or (not rhs and len(lhs) == 1 and len(lhs[0][1]) > wide)
        if spans:
            _add_blocks(blocks, left, body)
            _add_blocks(blocks, right, body)
            left, right = [], []
            across.append(line)
            continue
        _add_blocks(blocks, across, body)
        across = []
        if lhs:
            left.append(_Line.of(lhs, line.size))
        if rhs:
            right.append(_Line.of(rhs, line.size))
    for part in (across, left, right):
        _add_blocks(blocks, part, body)
    return "\n\n".join(_joined_runons(blocks))


def _runs_on(before: str, after: str) -> bool:
    """Whether a paragraph was cut by a column or page break: prose with no closing punctuation,
    then text that starts in lower case or with a digit."""
    prose = len(before) >= 40 and not _CLOSED.search(before) and " | " not in before
    return prose and (after[:1].islower() or after[:1].isdigit())


def _joined_runons(blocks: list[str]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if out and block and _runs_on(out[-1], block):
            out[-1] = _join_lines([out[-1], block])
        elif block:
            out.append(block)
    return out


def _add_blocks(blocks: list[str], lines: list[_Line], body: float) -> None:
    """Lines of one column (or of the full width), top to bottom, as paragraphs and table rows."""
    gaps = [a.y - b.y for a, b in itertools.pairwise(lines) if a.y > b.y]
    step = statistics.median(gaps) if gaps else 12.0
    i = 0
    while i < len(lines):
        j = i + 1
        if len(lines[i].cells) >= 2:  # a table: consecutive lines with the same number of cells
            while j < len(lines) and len(lines[j].cells) == len(lines[i].cells):
                j += 1
            blocks.extend(table_rows([[c[1] for c in row.cells] for row in lines[i:j]]))
        else:
            while j < len(lines) and len(lines[j].cells) == 1:
                j += 1
            blocks.extend(_join_lines([ln.text for ln in p]) for p in _paragraphs(lines[i:j], step, body))
        i = j


def _paragraphs(lines: list[_Line], step: float, body: float) -> list[list[_Line]]:
    """Consecutive lines split where the spacing grows or the font size changes (headings)."""
    out: list[list[_Line]] = []
    longest = max((len(line.text) for line in lines), default=0)
    for line in lines:
        if out:
            prev = out[-1][-1]
            same = abs(prev.size - line.size) <= 0.5 and prev.y - line.y <= 1.4 * max(step, prev.size)
            heading = (
                prev.size > body + 1
                or line.size > body + 1
                or (
                    # a heading set like the text (bold, same size and spacing): a short first line
                    # with no closing punctuation, before a line that starts a sentence
                    len(out[-1]) == 1
                    and len(prev.text) < 0.6 * longest
                    and not _CLOSED.search(prev.text)
                    and line.text[:1].isupper()
                )
            )
            if same and not heading:
                out[-1].append(line)
                continue
        out.append([line])
    return out


def _join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one string: "exam-" + "ple" -> "example", others joined by a space."""
    text = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if text and _HYPHEN_END.search(text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


def table_rows(rows: list[list[str]]) -> list[str]:
    """Table rows as text: with a header row, each later row reads "Header: cell, Header: cell"."""
    rows = [[" ".join(c.split()) for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header = rows[0]
    labelled = len(rows) >= 2 and all(header) and len(set(header)) == len(header)
    if not labelled:
        return [" | ".join(c for c in row if c) for row in rows]
    out = []
    for row in rows[1:]:
        pairs = [f"{h}: {c}" for h, c in zip(header, row, strict=False) if c]
        pairs += [c for c in row[len(header) :] if c]
        # Commas, not semicolons: the sentence splitter cuts "Year: 2022; Visitors: 5,870" in two.
        out.append(", ".join(pairs) + ("" if pairs[-1].endswith((".", "!", "?")) else "."))
    return out
