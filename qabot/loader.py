"""Read the seeds folder into Documents; report files that cannot be used.

.txt and .md are read exactly as `open(path, encoding="utf-8", newline="").read()`, so
citation offsets index the file's own characters. .html is reduced to its visible text
(offsets then index that text, which is stored in the index and quoted from there).
.pdf and .docx are read the same way as .html: their text is extracted once (pdf_text,
docx_text), stored in the index, and offsets index it; a PDF also records where each page
starts, so any span maps to its page.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DocumentUnreadable, SourceError
from .records import Document, SkippedFile

if TYPE_CHECKING:
    from .extraction_cache import ExtractionCache

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES
MAX_FILE_BYTES = 50 * 1024 * 1024
# Raised whenever the text extracted from .html, .pdf or .docx files changes: an index built with
# another version is rebuilt from the files (unchanged bytes would otherwise keep the old text).
EXTRACTION_VERSION = 3


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A candidate file: its path relative to the seeds folder and its stat fingerprint."""

    source: str
    location: str | os.PathLike[str]  # where the file is; `path` makes the Path when it is needed
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        # Not stored as a Path: a staleness check lists 10,000 files and opens none of them.
        return Path(self.location)


def list_sources(seeds_dir: Path, skipped: list[SkippedFile] | None = None) -> list[SourceFile]:
    """Every file with a supported suffix under seeds_dir, recursively, in a stable order.

    Paths left out on the way (a folder that cannot be read, a link that loops or leads outside
    the folder, a link to a folder, a pipe) are appended to `skipped` with the reason, when given.
    Hidden files and folders (a leading dot) and other suffixes are left out without a word.
    """
    skipped = [] if skipped is None else skipped
    if not seeds_dir.exists():
        raise SourceError(
            f"Seeds folder {seeds_dir} does not exist: create it and put .txt, .md, .html, .pdf or .docx files in it."
        )
    if not seeds_dir.is_dir():
        raise SourceError(f"Seeds path {seeds_dir} is not a folder: point --seeds at a folder of documents.")
    found: list[SourceFile] = []
    root_real = seeds_dir.resolve()
    top = os.fspath(seeds_dir)
    # os.walk and os.path, not pathlib: 10,000 files are listed on every build and every
    # staleness check, and pathlib's objects cost a quarter of a second there.
    def relative(path: str) -> str:
        return os.path.relpath(path, top).replace(os.sep, "/")

    def unreadable(exc: OSError) -> None:
        where = relative(exc.filename) if exc.filename else "."
        skipped.append(SkippedFile(where + "/", f"folder cannot be read ({exc.strerror or exc})"))

    for root, dirs, files in os.walk(top, onerror=unreadable):
        visible = sorted(d for d in dirs if not d.startswith("."))
        dirs[:] = []
        prefix = relative(root)
        prefix = "" if prefix == "." else prefix + "/"
        for name in visible:
            full = os.path.join(root, name)
            if os.path.islink(full):  # os.walk does not follow links to folders: say so
                reason = _link_problem(full, root_real) or "link to a folder, not followed (move the folder in)"
                skipped.append(SkippedFile(prefix + name + "/", reason))
            else:
                dirs.append(name)
        for name in sorted(files):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in SUFFIXES:
                continue
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    # A link that leads outside the seeds folder is not a document of this folder
                    # (and could expose any file the bot can read): leave it out.
                    problem = _link_problem(full, root_real)
                    if problem:
                        skipped.append(SkippedFile(prefix + name, problem))
                        continue
                    st = os.stat(full)
            except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11's resolve)
                skipped.append(SkippedFile(prefix + name, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append(SkippedFile(prefix + name, "not a regular file (a pipe, socket or device)"))
                continue
            found.append(SourceFile(prefix + name, full, st.st_size, st.st_mtime_ns))
    found.sort(key=lambda f: f.source)
    return found


def _link_problem(path: str, root_real: Path) -> str | None:
    """Why a symbolic link cannot be used as a document, or None when it can."""
    try:
        target = Path(path).resolve(strict=True)
    except RuntimeError:
        return "symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link ({exc.strerror or exc})"
    if not target.is_relative_to(root_real):
        return "link leads outside the seeds folder (not followed)"
    return None


def read_document(file: SourceFile, extracted: ExtractionCache | None = None) -> Document | SkippedFile:
    """One file to a Document, or the reason it was skipped.

    With `extracted`, a PDF or Word file whose bytes were extracted before is taken from there.
    """
    try:
        if file.path.stat().st_size > MAX_FILE_BYTES:
            return SkippedFile(file.source, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        raw = file.path.read_bytes()
    except OSError as exc:
        return SkippedFile(file.source, f"cannot be read ({exc.strerror or exc})")
    suffix = file.path.suffix.lower()
    if suffix in PDF_SUFFIXES or suffix in DOCX_SUFFIXES:
        return _read_extracted(file, raw, suffix, extracted)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return SkippedFile(file.source, "is UTF-16: convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)")
    if b"\x00" in raw:
        return SkippedFile(file.source, "looks binary (contains NUL bytes)")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SkippedFile(
            file.source,
            f"is not UTF-8 (bad byte at offset {exc.start}): convert it, e.g. iconv -f LATIN1 -t UTF-8",
        )
    # .txt/.md: the same characters as open(path, encoding="utf-8", newline="").read().
    text = html_to_text(decoded) if suffix in HTML_SUFFIXES else decoded
    if suffix in MARKDOWN_SUFFIXES:
        text = markdown_prose(text)
    if not text.strip():
        return SkippedFile(file.source, "is empty")
    return Document(source=file.source, text=text, sha256=hashlib.sha256(raw).hexdigest())


def _read_extracted(
    file: SourceFile, raw: bytes, suffix: str, extracted: ExtractionCache | None = None
) -> Document | SkippedFile:
    """A PDF or Word file's extracted text (and a PDF's page starts), or why it was skipped."""
    from .docx_text import read_docx
    from .pdf_text import read_pdf

    sha256 = hashlib.sha256(raw).hexdigest()
    kind = "pdf" if suffix in PDF_SUFFIXES else "docx"
    cached = extracted.get(kind, sha256) if extracted is not None else None
    if cached is not None:
        return Document(source=file.source, text=cached[0], sha256=sha256, pages=cached[1])
    pages: tuple[int, ...] = ()
    try:
        if suffix in PDF_SUFFIXES:
            pdf = read_pdf(raw)
            text, pages = pdf.text, pdf.page_starts
        else:
            text = read_docx(raw)
    except DocumentUnreadable as exc:
        return SkippedFile(file.source, str(exc))
    if not text.strip():
        return SkippedFile(file.source, "is empty (no text)")
    if extracted is not None:
        extracted.put(kind, sha256, text, pages)
    return Document(source=file.source, text=text, sha256=sha256, pages=pages)


def read_documents(
    files: list[SourceFile], on_read: Callable[[int, int], None] | None = None
) -> tuple[list[Document], list[SkippedFile]]:
    """The readable documents and the skipped files among `files`, each in source order."""
    docs: list[Document] = []
    skipped: list[SkippedFile] = []
    for i, file in enumerate(files):
        result = read_document(file)
        if isinstance(result, Document):
            docs.append(result)
        else:
            skipped.append(result)
        if on_read is not None:
            on_read(i + 1, len(files))
    return docs, skipped


def load_documents(seeds_dir: Path) -> tuple[list[Document], list[SkippedFile]]:
    """All readable documents under seeds_dir and the skipped files, each in source order."""
    return read_documents(list_sources(seeds_dir))


_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*$", re.DOTALL | re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*$")


def _blank(text: str, start: int, end: int) -> str:
    """`text` with [start, end) turned into spaces, line breaks kept: every offset stays the same."""
    return text[:start] + re.sub(r"[^\r\n]", " ", text[start:end]) + text[end:]


def markdown_prose(text: str) -> str:
    """A markdown file's text with its front matter (--- YAML ---) and fenced code blocks blanked
    out, so they are neither indexed nor quoted as prose; offsets still index the file."""
    match = _FRONT_MATTER.match(text)
    if match:
        text = _blank(text, 0, match.end())
    if "```" not in text and "~~~" not in text:
        return text
    opened: tuple[int, str] | None = None  # (offset, fence) of the open code block
    offset = 0
    for line in text.splitlines(keepends=True):
        fence = _FENCE.match(line.rstrip("\r\n"))
        if opened is None and fence:
            opened = (offset, fence.group(1))
        elif opened is not None and fence and fence.group(1)[0] == opened[1][0] and len(fence.group(1)) >= len(
            opened[1]
        ) and not line.strip().lstrip("`~"):
            text = _blank(text, opened[0], offset + len(line))
            opened = None
        offset += len(line)
    if opened is not None:  # an unclosed fence runs to the end of the file
        text = _blank(text, opened[0], len(text))
    return text


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page, one block element per paragraph."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    blocks: list[str] = []
    if title:
        blocks.append(title)
    block_tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd"]
    for el in soup.find_all(block_tags):
        if el.find(block_tags):
            continue  # the inner block elements are taken on their own
        text = " ".join(el.get_text().split())
        if text and (not blocks or text != blocks[-1]):
            blocks.append(text)
    if len(blocks) <= (1 if title else 0):
        body = soup.body or soup
        text = body.get_text("\n", strip=True)
        blocks.extend(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return "\n\n".join(blocks)
