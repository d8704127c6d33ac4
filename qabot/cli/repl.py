"""Interactive questions: line editing and history (prompt_toolkit), coloured answers.

:help, :sources, :status, :show N, :quit. Ctrl-C cancels the line, Ctrl-D exits.
Earlier questions of the session feed follow-ups that need them ("and how many failed?",
"when was he born?"); a question that names its own subject is answered as if asked alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import QabotError
from .render import print_answer, print_excerpt, print_info, print_sources, safe

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine import QAEngine
    from ..records import Answer

HELP = """Type a question and press Enter. A follow-up ("and how many failed?") uses the earlier questions.
  :sources   list the indexed documents
  :status    index facts (model, counts, build time, staleness)
  :show N    citation N of the last answer in its document, the span highlighted
  :generate  turn written answers on or off (the language model writes from the passages; needs QABOT_LLM_URL)
  :new       forget earlier questions (start a new topic)
  :help      this text
  :quit      leave (or Ctrl-D); Ctrl-C cancels the line"""


def history_file() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "qabot" / "history"


def _reader(interactive: bool):  # type: ignore[no-untyped-def]
    """A function that returns the next line (raising EOFError / KeyboardInterrupt)."""
    if not interactive:
        return lambda: input()
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    path = history_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        history: FileHistory | InMemoryHistory = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()
    session: PromptSession[str] = PromptSession(history=history)
    return lambda: session.prompt("qabot> ")


def run_repl(engine: QAEngine, console: Console) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    read = _reader(interactive)
    info = engine.info(check_stale=False)
    console.print(
        f"[bold]qabot[/bold] — {info.documents} document(s), {info.chunks} chunks. "
        "Ask a question; :help for commands, Ctrl-D to leave."
    )
    earlier: list[str] = []
    last: Answer | None = None
    generate = False
    while True:
        try:
            line = read().strip()
        except KeyboardInterrupt:
            continue
        except EOFError:
            if interactive:
                console.print()
            return 0
        if not line:
            continue
        if line.startswith(":"):
            command = line[1:].strip().lower()
            if command in {"q", "quit", "exit"}:
                return 0
            if command in {"h", "help", "?"}:
                console.print(HELP, markup=False, highlight=False)
            elif command == "sources":
                print_sources(console, engine.info(check_stale=False))
            elif command == "status":
                print_info(console, engine.info())
            elif command.split()[:1] == ["show"]:
                show_citation(engine, console, last, command.split()[1:])
            elif command == "generate":
                generate = toggle_generate(engine, console, generate)
            elif command == "new":
                earlier.clear()
                console.print("[dim]Earlier questions forgotten.[/dim]")
            else:
                console.print(f"Unknown command {line!r}: type :help.", markup=False, highlight=False)
            continue
        try:
            engine.reload()
            answer = engine.ask(line, history=earlier)
            if generate and not answer.abstained:
                answer = engine.write(
                    answer,
                    on_text=lambda piece: console.print(
                        safe(piece), end="", style="dim", markup=False, highlight=False
                    ),
                )
                console.print()
        except KeyboardInterrupt:
            console.print("[dim]cancelled[/dim]")
            continue
        except QabotError as exc:
            console.print(str(exc), style="red", markup=False, highlight=False)
            continue
        print_answer(console, answer)
        console.print()
        last = answer
        earlier = [*earlier[-1:], line]


def show_citation(engine: QAEngine, console: Console, answer: Answer | None, args: list[str]) -> None:
    """`:show N`: citation N of the last answer, in its document's text (as `qabot show` prints it)."""
    from ..excerpt import make_excerpt

    cited = answer.citations if answer is not None else ()
    if not cited:
        console.print("No citations yet: ask a question first, then :show N.", markup=False, highlight=False)
        return
    if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= len(cited):
        console.print(f"Give a citation number from 1 to {len(cited)}: :show 1.", markup=False, highlight=False)
        return
    cite = cited[int(args[0]) - 1]
    text = engine.document_text(cite.source)
    if text is None or text[cite.start : cite.end] != cite.text:
        console.print(
            f"{cite.source} changed in the index since that answer: ask again.", markup=False, highlight=False
        )
        return
    pages = engine.page_starts(cite.source)
    print_excerpt(console, make_excerpt(cite.source, text, (cite.start, cite.end), engine.settings.show_context, pages))


def toggle_generate(engine: QAEngine, console: Console, on: bool) -> bool:
    """`:generate`: written answers on or off; stays off without a language model."""
    if not on and engine.llm is None:
        console.print("No language model: set QABOT_LLM_URL and QABOT_LLM_MODEL first.", markup=False, highlight=False)
        return False
    console.print(
        "[dim]Written answers on: the model writes, qabot checks each sentence against its passages.[/dim]"
        if not on
        else "[dim]Written answers off: answers are quoted from the documents.[/dim]"
    )
    return not on
