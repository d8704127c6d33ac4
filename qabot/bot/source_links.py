"""Titles and links of source documents, as the bot shows them.

    links = SourceLinks(url_template="https://docs.example.com/{path}")
    links.describe(seeds_dir, "guides/setup.md")   # SourceInfo(title="Setup", url="https://docs.example.com/guides/setup.md")

The title is a Markdown file's front-matter `title:` or first heading, an HTML file's
<title>, else the document's first non-empty line. The link is a Markdown file's own
front-matter `url:`, else the QABOT_SOURCE_URL template ({path}: the file's path in the
seeds folder, URL-quoted; {stem}: the same without its suffix), else none. Only the first
64 KB of a file are read, once per file version (size and modification time).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

HEAD_BYTES = 64 * 1024
READABLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})  # read as text for a title
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$", re.MULTILINE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SAFE_URL = re.compile(r"^https?://[^\s<>]+$")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    title: str
    url: str | None


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """(keys of a leading `---` YAML-style block, the text after it); ({}, text) without one."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    keys = {k.lower(): v.strip().strip("\"'") for k, v in _KEY.findall(m.group(1))}
    return keys, text[m.end() :]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def title_and_url(source: str, head: str) -> tuple[str, str | None]:
    """Title and front-matter link from the first part of a document's raw text."""
    suffix = PurePosixPath(source).suffix.lower()
    if suffix in (".html", ".htm"):
        m = _HTML_TITLE.search(head)
        title = " ".join(html.unescape(m.group(1)).split()) if m else ""
        return title, None
    keys, body = front_matter(head) if suffix in (".md", ".markdown") else ({}, head)
    title = keys.get("title", "")
    if not title and suffix in (".md", ".markdown"):
        m = _HEADING.search(body)
        title = m.group(1).strip() if m else ""
    title = title or _first_line(body)
    url = keys.get("url") or None
    return title, url if url and _SAFE_URL.match(url) else None


class SourceLinks:
    """Title and link per (seeds folder, source), cached by file version."""

    def __init__(self, url_template: str | None = None, max_entries: int = 4096) -> None:
        self.url_template = (url_template or "").strip() or None
        self.max_entries = max_entries
        self._cache: dict[tuple[str, str], tuple[tuple[int, int], SourceInfo]] = {}

    def template_url(self, source: str) -> str | None:
        if not self.url_template:
            return None
        stem = str(PurePosixPath(source).with_suffix(""))
        try:
            url = self.url_template.format(path=quote(source), stem=quote(stem))
        except (KeyError, IndexError, ValueError):
            return None
        return url if _SAFE_URL.match(url) else None

    def describe(self, seeds_dir: Path, source: str) -> SourceInfo:
        """Title and link of `source` (a path relative to `seeds_dir`); the file name when unreadable."""
        fallback = SourceInfo(PurePosixPath(source).name, self.template_url(source))
        if PurePosixPath(source).suffix.lower() not in READABLE_SUFFIXES:
            return fallback  # PDF, DOCX...: binary, the file name is the title
        root = Path(seeds_dir)
        path = root / source
        try:
            if not path.resolve().is_relative_to(root.resolve()):
                return fallback
            stat = path.stat()
        except OSError:
            return fallback
        key = (str(root), source)
        version = (stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            with open(path, "rb") as f:
                head = f.read(HEAD_BYTES).decode("utf-8", "replace")
        except OSError:
            return fallback
        title, url = title_and_url(source, head)
        info = SourceInfo(title or fallback.title, url or fallback.url)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[key] = (version, info)
        return info
