"""The text of a Word .docx file: paragraphs and tables in document order.

Each paragraph (headings included) becomes one paragraph of the text; a table becomes one
line per row, "Header: cell, Header: cell" when its first row is a header (the same form as
PDF tables). Extracted once at build time and stored in the index: citation offsets refer
to this text.
"""

from __future__ import annotations

import io
import zipfile

from .errors import DocumentUnreadable
from .pdf_text import normalize, table_rows

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .docx and old binary .doc files


def read_docx(data: bytes) -> str:
    """The document text of a .docx, or DocumentUnreadable with the reason."""
    if data.startswith(OLE_MAGIC):
        raise DocumentUnreadable(
            "is a password-protected Word file or an old .doc saved as .docx: save it as an unprotected .docx"
        )
    from docx import Document as open_docx  # noqa: N813 - a function that opens a file
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = open_docx(io.BytesIO(data))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                text = normalize(item.text).strip()
                if text:
                    blocks.append(text)
            elif isinstance(item, Table):
                blocks.extend(table_rows(_cells(item)))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentUnreadable(
            f"is a damaged Word file ({type(exc).__name__}): open and save it again, or remove it"
        ) from exc
    except Exception as exc:
        raise DocumentUnreadable(
            f"is a damaged Word file ({type(exc).__name__}): open and save it again, or remove it"
        ) from exc
    return "\n\n".join(blocks)


def _cells(table: object) -> list[list[str]]:
    """Cell texts row by row; a merged cell (repeated by python-docx) counted once."""
    rows: list[list[str]] = []
    for row in table.rows:  # type: ignore[attr-defined]
        texts: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:
                continue
            previous = cell._tc
            texts.append(normalize(cell.text).replace("\n", " ").strip())
        rows.append(texts)
    return rows
