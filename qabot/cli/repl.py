"""Interactive questions: line editing and history (prompt_toolkit), coloured answers.

:help, :sources, :status, :quit. Ctrl-C cancels the line, Ctrl-D exits.
Earlier questions of the session feed follow-ups that need them ("and how many failed?",
"when was he born?"); a question that names its own subject is answered as if asked alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import QabotError
from .render import print_answer, print_info, print_sources

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine import QAEngine

HELP = """Type a question and press Enter. A follow-up ("and how many failed?") uses the earlier questions.
  :sources   list the indexed documents
  :status    index facts (model, counts, build time, staleness)
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
            elif command == "new":
                earlier.clear()
                console.print("[dim]Earlier questions forgotten.[/dim]")
            else:
                console.print(f"Unknown command {line!r}: type :help.", markup=False, highlight=False)
            continue
        try:
            engine.reload()
            answer = engine.ask(line, history=earlier)
        except KeyboardInterrupt:
            console.print("[dim]cancelled[/dim]")
            continue
        except QabotError as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            continue
        print_answer(console, answer)
        console.print()
        earlier = [*earlier[-1:], line]
