"""The terminal front end: the `qabot` command, the REPL, rendering and build progress."""

from .app import main

__all__ = ["main"]
