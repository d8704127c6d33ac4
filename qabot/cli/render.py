"""Answers and index facts as terminal text (rich markup) or JSON lines."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ..records import ABSTAIN_TEXT, Answer, BuildReport, IndexInfo

if TYPE_CHECKING:
    from rich.console import Console

QUOTE_CHARS = 240


def answer_json(answer: Answer) -> str:
    return json.dumps(answer.to_json(), ensure_ascii=False)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")


def safe(text: str) -> str:
    """Text from a document made safe for a terminal: control characters (escape sequences) removed."""
    return _CONTROL.sub("", text)


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


def print_answer(console: Console, answer: Answer) -> None:
    """The answer, then its numbered sources: file, character span, quoted text."""
    from rich.markup import escape

    if answer.abstained:
        console.print(f"[yellow]{ABSTAIN_TEXT}[/yellow]")
        return
    console.print(highlighted(answer))
    console.print()
    for n, cite in enumerate(answer.citations, start=1):
        where = safe(f"{cite.source}:{cite.start}-{cite.end}")
        console.print(f"[cyan]\\[{n}][/cyan] [green]{escape(where)}[/green]  [dim]“{escape(_quote(cite.text))}”[/dim]")


def print_info(console: Console, info: IndexInfo) -> None:
    from rich.markup import escape

    console.print(f"[bold]Index[/bold] {escape(info.index_dir)} ({info.generation}, built {info.built_at})")
    console.print(f"model {escape(info.model)} ({info.dim} dimensions)")
    console.print(f"{info.documents} documents, {info.chunks} chunks, {info.sentences} sentences")
    if info.stale:
        shown = ", ".join(info.stale[:5]) + (" …" if len(info.stale) > 5 else "")
        console.print(
            f"[yellow]stale: {len(info.stale)} source(s) changed since the build ({escape(shown)}); "
            "run `qabot index build`[/yellow]"
        )
    else:
        console.print("[green]up to date with the seeds folder[/green]")


def print_sources(console: Console, info: IndexInfo, limit: int = 50) -> None:
    from rich.markup import escape

    for source in info.sources[:limit]:
        console.print(f"  {escape(source)}")
    if len(info.sources) > limit:
        console.print(f"  … and {len(info.sources) - limit} more")


def print_build(console: Console, report: BuildReport) -> None:
    from rich.markup import escape

    for skipped in report.skipped:
        console.print(f"[yellow]skipped {escape(skipped.source)}: {escape(skipped.reason)}[/yellow]")
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
