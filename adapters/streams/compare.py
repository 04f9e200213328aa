"""Compare mode: run two private feeds side by side and report every discrepancy.

The seed analysis proposed running ccxt.pro next to the native Bybit stream before trusting either.
`FeedComparator` matches the websocket reports of a *baseline* feed and a *candidate* feed by
identity (a fill by trade id, an order update by id/status/filled quantity, a position by symbol and
exchange time) and reports:

* ``missing``  -- the baseline delivered it, the candidate did not within the window;
* ``extra``    -- the candidate delivered it, the baseline did not within the window;
* ``differing`` -- both delivered it, with different content (the raw payloads are not compared).

REST snapshots, connection changes and rejections are not compared: each feed takes its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import Enum
from typing import Any

from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.events import Report
from warden.domain.reports import FillReport, OrderReport, PositionReport
from warden.domain.values import ReportSource

Key = tuple[str, ...]


class Mismatch(Enum):
    MISSING = "missing"
    EXTRA = "extra"
    DIFFERING = "differing"


@dataclass(frozen=True)
class Discrepancy:
    kind: Mismatch
    key: Key
    baseline: Report | None
    candidate: Report | None


def report_key(report: object) -> Key | None:
    if isinstance(report, FillReport):
        return ("fill", report.trade_id)
    if isinstance(report, OrderReport):
        return ("order", report.order_id, report.status.value, str(report.filled_qty))
    if isinstance(report, PositionReport) and report.source is ReportSource.WEBSOCKET:
        stamp = report.exchange_time.isoformat() if report.exchange_time else "-"
        return ("position", report.symbol, stamp)
    return None


class FeedComparator:
    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        # key -> (arrival time, report), one table per side
        self._pending: dict[bool, dict[Key, tuple[float, Report]]] = {True: {}, False: {}}
        self.matched = 0

    def add(self, report: Report, *, baseline: bool) -> list[Discrepancy]:
        key = report_key(report)
        if key is None:
            return []
        other = self._pending[not baseline].pop(key, None)
        if other is None:
            self._pending[baseline].setdefault(key, (self.clock(), report))
            return self.expire()
        self.matched += 1
        pair = (report, other[1]) if baseline else (other[1], report)
        found = [] if pair[0] == pair[1] else [Discrepancy(Mismatch.DIFFERING, key, *pair)]
        return found + self.expire()

    def expire(self, *, everything: bool = False) -> list[Discrepancy]:
        """Unmatched reports older than the window (or all of them) as missing / extra."""
        limit = self.clock() - self.window
        found = []
        for baseline, kind in ((True, Mismatch.MISSING), (False, Mismatch.EXTRA)):
            table = self._pending[baseline]
            for key, (arrived, report) in list(table.items()):
                if everything or arrived <= limit:
                    del table[key]
                    pair = (report, None) if baseline else (None, report)
                    found.append(Discrepancy(kind, key, *pair))
        return found


class Comparison:
    """One compare-mode run, the only one: the service feeds it the baseline's events as it hands
    them to the engine and lets it consume the candidate stream; `compare_streams` lets it consume
    both. Each discrepancy goes to ``on_discrepancy`` as soon as it is known."""

    def __init__(self, on_discrepancy: Callable[[Discrepancy], None], *, window: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.comparator = FeedComparator(window, clock)
        self.on_discrepancy = on_discrepancy

    @property
    def matched(self) -> int:
        return self.comparator.matched

    def add(self, event: object, *, baseline: bool) -> None:
        """One event of either feed; only websocket reports are compared."""
        if isinstance(event, FillReport | OrderReport | PositionReport):
            self._emit(self.comparator.add(event, baseline=baseline))

    async def follow(self, stream: PrivateStream, *, baseline: bool) -> None:
        async for event in stream.events():
            self.add(event, baseline=baseline)

    async def run(self, *feeds: Coroutine[Any, Any, None]) -> None:
        """Run ``feeds`` (e.g. `follow` calls) and the sweep that reports what stayed unmatched
        past the window, until cancelled."""
        tasks = [asyncio.create_task(feed) for feed in feeds]
        tasks.append(asyncio.create_task(self._sweep()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def finish(self) -> None:
        """Report everything still unmatched, whatever its age."""
        self._emit(self.comparator.expire(everything=True))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.comparator.window / 2)
            self._emit(self.comparator.expire())

    def _emit(self, found: list[Discrepancy]) -> None:
        for discrepancy in found:
            self.on_discrepancy(discrepancy)


async def compare_streams(baseline: PrivateStream, candidate: PrivateStream,
                          on_discrepancy: Callable[[Discrepancy], None], *,
                          window: float = 2.0) -> None:
    """Consume both (started) streams until cancelled, calling ``on_discrepancy`` for each one."""
    comparison = Comparison(on_discrepancy, window=window)
    try:
        await comparison.run(comparison.follow(baseline, baseline=True),
                             comparison.follow(candidate, baseline=False))
    finally:
        comparison.finish()
