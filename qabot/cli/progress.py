"""Build progress on standard error: a bar (rate and ETA) on a terminal, otherwise a plain
line at each stage's start and end and at least every 10 s (logs and CI see a long build move)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ..builder import BuildProgress


PLAIN_EVERY_SECONDS = 10.0


@contextlib.contextmanager
def build_progress(console: Console, every: float = PLAIN_EVERY_SECONDS) -> Iterator[BuildProgress]:
    """Yield a BuildProgress callback: one rich progress bar per stage on a terminal, plain
    lines (`plain_progress`) elsewhere."""
    if not console.is_terminal:
        with plain_progress(console, every) as update:
            yield update
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}
        shown: dict[str, float] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1), rate="")
            now = time.monotonic()
            if done < total and now - shown.get(stage, 0.0) < 0.1:
                return  # 10 updates a second are plenty; 10,000 cost seconds
            shown[stage] = now
            task = tasks[stage]
            speed = next(t.speed for t in bar.tasks if t.id == task)
            rate = f"{speed:,.0f}/s" if speed else ""
            bar.update(task, completed=done, total=max(total, 1), rate=rate)

        yield update


@contextlib.contextmanager
def plain_progress(console: Console, every: float = PLAIN_EVERY_SECONDS) -> Iterator[BuildProgress]:
    """Plain progress lines: a stage's first and last update, and the latest state at least
    every `every` seconds, from a timer thread (a stage may go long without any update:
    cutting one huge document into sentences)."""
    began = time.monotonic()
    lock = threading.Lock()
    state: dict[str, object] = {}
    stop = threading.Event()

    def line(stage: str, done: int, total: int, since: float) -> str:
        elapsed = time.monotonic() - began
        share = f" ({100 * done / total:.0f} %)" if total > 1 else ""
        rate = ""
        seconds = time.monotonic() - since
        if 0 < done < total and seconds > 1:
            rate = f", {done / seconds:,.1f}/s"
        return f"{stage}: {done:,}/{total:,}{share}{rate}, {elapsed:,.0f} s elapsed"

    def say(text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            console.print(text, markup=False, highlight=False)
            console.file.flush()

    def update(stage: str, done: int, total: int) -> None:
        with lock:
            first = state.get("stage") != stage
            if first:
                state.update(stage=stage, since=time.monotonic())
            state.update(done=done, total=total, said=time.monotonic() if first or done >= total else state.get("said"))
            text = line(stage, done, total, float(state["since"]))  # type: ignore[arg-type]
        if first or done >= total:
            say(text)

    def tick() -> None:
        while not stop.wait(min(every, 1.0)):
            with lock:
                if "stage" not in state or time.monotonic() - float(state["said"]) < every:  # type: ignore[arg-type]
                    continue
                state["said"] = time.monotonic()
                text = line(str(state["stage"]), int(state["done"]), int(state["total"]), float(state["since"]))  # type: ignore[call-overload,arg-type]
            say(text)

    timer = threading.Thread(target=tick, name="qabot-progress", daemon=True)
    timer.start()
    try:
        yield update
    finally:
        stop.set()
        timer.join()
