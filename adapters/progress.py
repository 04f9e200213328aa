"""Progress bars for long work in the CLI (export, import, replay, report, what-if...).

``for item in track(items, total=n, description="exporting"): ...`` draws a bar on stderr while
the loop runs, and nothing at all when stderr is not a terminal (a pipe, a log file, a test) or
when the work is short (``total`` under ``min_total``, or unknown): scripts and logs see only what
the command prints. ``weight`` says how much one item advances the bar (e.g. ``len`` of a line
when ``total`` is a file's size in bytes). The bar disappears when the loop ends.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
MIN_ITEMS = 5_000  # fewer items than this are done before a bar is worth drawing
MIN_BYTES = 4 * 1024 * 1024


def track(items: Iterable[T], *, total: float | None, description: str,
          weight: Callable[[T], float] | None = None, min_total: float = MIN_ITEMS,
          in_bytes: bool = False, console: Console | None = None) -> Iterator[T]:
    """Yield ``items`` unchanged, with a progress bar on a terminal's stderr when it is long."""
    console = console or Console(stderr=True)
    if total is None or total < min_total or not console.is_terminal:
        yield from items
        return
    amount = DownloadColumn() if in_bytes else MofNCompleteColumn()
    columns = (TextColumn("{task.description}"), BarColumn(), amount, TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task, weight(item) if weight else 1)


def file_size(stream: object) -> int | None:
    """The size in bytes of an open regular file, None for a pipe or a terminal."""
    try:
        status = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None
