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
from collections import Counter
from collections.abc import Callable

from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.supervision import FeedHealth

SUMMARY = "summary: frames rejected but not recorded one by one"


class Rejections:
    def __init__(self, feed: str, health: FeedHealth, emit: Callable[[StreamRejection], None], *,
                 rate: float = 1.0, burst: int = 10,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.feed, self.health, self.emit = feed, health, emit
        self.rate, self.burst, self.monotonic = rate, burst, monotonic
        self.tokens, self.at = float(burst), monotonic()
        self.unrecorded: Counter[str] = Counter()
        self._flush: asyncio.TimerHandle | None = None

    def add(self, rejection: StreamRejection) -> None:
        self.health.rejected_frames += 1
        if self._take():
            self.emit(rejection.compact(self._skipped()))
        else:
            self.unrecorded[rejection.kind] += 1
            self._flush_later()

    def _take(self) -> bool:
        now = self.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _skipped(self) -> dict[str, int]:
        skipped, self.unrecorded = dict(self.unrecorded), Counter()
        return skipped

    def _flush_later(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later((1 - self.tokens) / self.rate,
                                                                 self._summarise)

    def _summarise(self) -> None:
        self._flush = None
        if not self.unrecorded:
            return
        if not self._take():
            self._flush_later()
            return
        self.emit(StreamRejection(self.feed, SUMMARY, "", None, "", self._skipped()))
