"""Answers and index facts as terminal text (rich markup) or JSON lines."""

from __future__ import annotations

import itertools
import json
import re
from typing import TYPE_CHECKING

from ..records import ABSTAIN_TEXT, Answer, BuildReport, Citation, IndexInfo

if TYPE_CHECKING:
    from rich.console import Console

    from ..excerpt import Excerpt

QUOTE_CHARS = 240


def answer_json(answer: Answer) -> str:
    return json.dumps(answer.to_json(), ensure_ascii=False)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")


def safe(text: str) -> str:
    """Text from a document made safe for a terminal: control characters (escape sequences) removed."""
    return _CONTROL.sub("", text)


def safe_name(name: str) -> str:
    """A file name on one line: line breaks and tabs shown as \\n, \\r, \\t (a name may hold them)."""
    return safe(name.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))


def quiet_console(stderr: bool = False, soft_wrap: bool = True) -> Console:
    """A rich console that never reads markup in what it is given as plain text, and whose
    closed pipe raises BrokenPipeError (rich's own default exits with status 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(stderr=stderr, soft_wrap=soft_wrap, highlight=False)


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    flat = " ".join(safe(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:") + " …"


def highlighted(answer: Answer) -> str:
    """The answer as rich markup: the short answer in bold, the rest as plain text."""
    from rich.markup import escape

    text = answer.text or ""
    span = answer.short_answer_span()
    if span is None:
        return escape(safe(text))
    start, end = span
    return f"{escape(safe(text[:start]))}[bold]{escape(safe(text[start:end]))}[/bold]{escape(safe(text[end:]))}"


def source_line(cite: Citation) -> str:
    """`file.txt:852-973`, or for a PDF `report.pdf p. 3 (852-973)`."""
    if cite.page is None:
        return f"{cite.source}:{cite.start}-{cite.end}"
    return f"{cite.where} ({cite.start}-{cite.end})"


def print_warnings(console: Console, answer: Answer) -> None:
    """One line per warning (e.g. the language model could not be used)."""
    from rich.markup import escape

    for warning in answer.warnings:
        console.print(f"[yellow]warning: {escape(safe(warning))}[/yellow]")


def print_answer(console: Console, answer: Answer) -> None:
    """The answer, then its numbered sources: file, character span, quoted text."""
    from rich.markup import escape

    print_warnings(console, answer)
    if answer.abstained:
        console.print(f"[yellow]{ABSTAIN_TEXT}[/yellow]")
        return
    console.print(highlighted(answer))
    console.print()
    for n, cite in enumerate(answer.citations, start=1):
        where = safe_name(source_line(cite))  # a line break in a file name stays on one line
        console.print(f"[cyan]\\[{n}][/cyan] [green]{escape(where)}[/green]  [dim]“{escape(_quote(cite.text))}”[/dim]")


def print_excerpt(console: Console, excerpt: Excerpt) -> None:
    """A heading (source, page, span), then the text with the span highlighted; PDF page starts marked.

    Document text goes into rich Text objects, so nothing in it is read as markup.
    """
    from rich.text import Text

    span = excerpt.span
    head = Text(excerpt.source, style="green")
    if excerpt.page is not None:
        head.append(f" p. {excerpt.page}", style="green")
    if span is not None:
        head.append(f"  {span[0]}-{span[1]} of {excerpt.length:,} characters", style="dim")
    else:
        head.append(f"  {excerpt.length:,} characters", style="dim")
    console.print(head)
    lo, hi = excerpt.offset, excerpt.offset + len(excerpt.text)
    cuts = {lo, hi} | {p for p in excerpt.pages[1:] if lo < p < hi}
    if span is not None:
        cuts |= {span[0], span[1]}
    body = Text("… " if excerpt.clipped_before else "", style="dim")
    bounds = sorted(cuts)
    for a, b in itertools.pairwise(bounds):
        if a in excerpt.pages[1:]:
            body.append(f"── p. {excerpt.pages.index(a) + 1} ──\n", style="dim")
        cited = span is not None and span[0] <= a and b <= span[1]
        body.append(safe(excerpt.text[a - lo : b - lo]), style="bold black on yellow" if cited else "")
    if excerpt.clipped_after:
        body.append(" …", style="dim")
    console.print(body)


def print_info(console: Console, info: IndexInfo) -> None:
    from rich.markup import escape

    console.print(f"[bold]Index[/bold] {escape(info.index_dir)} ({info.generation}, built {escape(info.built_at)})")
    console.print(f"model {escape(info.model)} ({info.dim} dimensions)")
    console.print(f"{info.documents} documents, {info.chunks} chunks, {info.sentences} sentences")
    if info.stale:
        shown = ", ".join(safe_name(s) for s in info.stale[:5]) + (" …" if len(info.stale) > 5 else "")
        console.print(
            f"[yellow]stale: {len(info.stale)} source(s) changed since the build ({escape(shown)}); "
            "run `qabot index build`[/yellow]"
        )
    else:
        console.print("[green]up to date with the seeds folder[/green]")


def print_sources(console: Console, info: IndexInfo, limit: int = 50) -> None:
    from rich.markup import escape

    for source in info.sources[:limit]:
        console.print(f"  {escape(safe_name(source))}")
    if len(info.sources) > limit:
        console.print(f"  … and {len(info.sources) - limit} more")


def print_build(console: Console, report: BuildReport) -> None:
    from rich.markup import escape

    for skipped in report.skipped:
        console.print(f"[yellow]skipped {escape(safe_name(skipped.source))}: {escape(skipped.reason)}[/yellow]")
    if report.unchanged:
        console.print(
            f"Index is up to date ({report.generation}, {report.documents} documents): nothing changed since "
            "the last build (--full rebuilds anyway)."
        )
        return
    console.print(
        f"Built {report.generation}: {report.documents} documents, {report.chunks} chunks, "
        f"{report.sentences} sentences; embedded {report.embedded}, reused {report.reused} "
        f"in {report.seconds:.1f} s."
    )
