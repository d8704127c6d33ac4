"""A terminal progress bar (rate and ETA) for builds, drawn on standard error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..builder import BuildProgress

if TYPE_CHECKING:
    from rich.console import Console


@contextlib.contextmanager
def build_progress(console: Console) -> Iterator[BuildProgress]:
    """Yield a BuildProgress callback that drives one rich progress bar per stage."""
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
