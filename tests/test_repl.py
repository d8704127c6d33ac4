"""The REPL: commands, follow-ups, errors, and leaving cleanly."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from qabot.cli.repl import run_repl

pytestmark = pytest.mark.slow  # the real model


def test_repl_session(seed_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    script = "\n".join(
        [
            ":help",
            "How many missiles did Iran launch?",
            "and how many failed?",
            "   ",
            "x" * 3000,
            ":sources",
            ":bogus",
            "What is the capital of France?",
            ":quit",
            "never read",
        ]
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(script + "\n"))
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    assert run_repl(seed_engine, console) == 0
    out = buffer.getvalue()
    assert ":sources" in out  # the help text
    assert "15 ballistic missiles" in out
    assert "four failed" in out  # the follow-up used the earlier question
    assert "limit is 2,000" in out
    assert "000_1e0f96428eb82f3b.txt" in out
    assert "Unknown command ':bogus'" in out
    assert "The documents don't say." in out
    assert "never read" not in out


def test_repl_ends_on_end_of_input(seed_engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.StringIO("What did Trump tweet?"))
    buffer = io.StringIO()
    assert run_repl(seed_engine, Console(file=buffer, width=200, color_system=None)) == 0
    assert "All is well" in buffer.getvalue()
