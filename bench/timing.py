"""Small timing helpers: a stopwatch and the median of repeated runs after a warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(run: Callable[[], float], reps: int, warmup: Callable[[], Any] | None = None) -> float:
    """The median of ``reps`` runs; ``run`` returns the seconds it measured itself.

    ``warmup`` (default: one ``run``) is called first and not counted: it fills caches, prepares
    statements and lets the server's buffers hold the tables.
    """
    (warmup or run)()
    return statistics.median(run() for _ in range(reps))
