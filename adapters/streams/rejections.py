"""A feed's rejected frames: every one counted, recorded compactly, and no faster than a budget.

A garbage frame is evidence, but whoever sends garbage at line rate must not grow the log at line
rate. A feed counts every rejection (`FeedHealth.rejected_frames`, ``/metrics``) and passes on at
most ``rate`` records a second, ``burst`` at once, each a compact `StreamRejection` (the reason,
the first 256 characters, the frame's size and SHA-256). Rejections over the budget are counted by
kind and carried by the next record; when no other rejection comes, a summary of them is passed on
as soon as the budget allows, so the log accounts for every rejected frame.

The rule: per feed, at most ``burst + rate * seconds`` records (10 + 1 a second), each under 1 KiB.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from warden.adapters.intake_limits import RecordBudget
from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.supervision import FeedHealth

SUMMARY = "summary: frames rejected but not recorded one by one"


class Rejections:
    def __init__(self, feed: str, health: FeedHealth, emit: Callable[[StreamRejection], None], *,
                 rate: float = 1.0, burst: int = 10,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.feed, self.health, self.emit = feed, health, emit
        self.budget = RecordBudget(rate, burst, monotonic)
        self._summary: asyncio.TimerHandle | None = None

    def add(self, rejection: StreamRejection) -> None:
        self.health.rejected_frames += 1
        skipped = self.budget.admit(rejection.kind)
        if skipped is None:
            self._summarise_later()
        else:
            self.emit(rejection.compact(skipped))

    def _summarise_later(self) -> None:
        if self._summary is None:
            delay = 1 / self.budget.bucket.rate  # when the budget has a record again
            self._summary = asyncio.get_running_loop().call_later(delay, self._summarise)

    def _summarise(self) -> None:
        self._summary = None
        skipped = self.budget.flush()
        if skipped is not None:
            self.emit(StreamRejection(self.feed, SUMMARY, "", None, "", skipped))
        elif self.budget.unrecorded:
            self._summarise_later()
