"""Compare mode: run two private feeds side by side and report where they disagree.

The seed analysis proposed running ccxt.pro next to a native stream before trusting either. The two
do not deliver the same *sequence*: ccxt.pro merges an order's New and Filled updates when both
arrive before its watcher runs, and keeps one cached state per position. What both must agree on is
how each thing *ended*. `FeedComparator` therefore keeps, per identity (an order by id, a position by
symbol, a fill by trade id), the latest state each feed reported, and compares the two once the
identity has *settled* -- neither feed said anything new about it for ``window`` seconds:

* ``missing``  -- only the baseline reported it;
* ``extra``    -- only the candidate reported it;
* ``differing`` -- both did, and they disagree on how it ended (for an order: status, quantities,
  prices; for a position: side, size, entry, stop; a fill: all of it). The raw payloads, receive
  times and the mark price a push happened to carry are not compared.

A push one feed lost still shows: the other feed's last word on that order or position stands alone
(or disagrees with an older one). REST snapshots, connection changes and rejections are not
compared: each feed takes its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
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
    """The identity a report speaks about; None for what compare mode does not compare."""
    if isinstance(report, FillReport):
        return ("fill", report.trade_id)
    if isinstance(report, OrderReport):
        return ("order", report.order_id)
    if isinstance(report, PositionReport) and report.source is ReportSource.WEBSOCKET:
        return ("position", report.symbol)
    return None


def ending(report: Report) -> Report:
    """What is compared of a report: how the thing stands, not when or how it was delivered."""
    if isinstance(report, PositionReport):
        return replace(report, mark_price=None, exchange_time=None)
    if isinstance(report, OrderReport):
        return replace(report, time=None)
    return report


class FeedComparator:
    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        # key -> [baseline's latest, candidate's latest], and when either last spoke about it
        self._latest: dict[Key, list[Report | None]] = {}
        self._touched: dict[Key, float] = {}
        self.agreed: Counter[str] = Counter()  # settled identities both feeds agree on, by kind

    @property
    def matched(self) -> int:
        return sum(self.agreed.values())

    def add(self, report: Report, *, baseline: bool) -> list[Discrepancy]:
        key = report_key(report)
        if key is None:
            return []
        self._latest.setdefault(key, [None, None])[0 if baseline else 1] = report
        self._touched[key] = self.clock()
        return self.expire()

    def expire(self, *, everything: bool = False) -> list[Discrepancy]:
        """Compare every identity settled for ``window`` seconds (or all of them), and forget it."""
        limit = self.clock() - self.window
        found: list[Discrepancy] = []
        for key, touched in list(self._touched.items()):
            if everything or touched <= limit:
                del self._touched[key]
                found.extend(self._settle(key, *self._latest.pop(key)))
        return found

    def _settle(self, key: Key, base: Report | None, candidate: Report | None) -> list[Discrepancy]:
        if candidate is None:
            return [Discrepancy(Mismatch.MISSING, key, base, None)]
        if base is None:
            return [Discrepancy(Mismatch.EXTRA, key, None, candidate)]
        if ending(base) != ending(candidate):
            return [Discrepancy(Mismatch.DIFFERING, key, base, candidate)]
        self.agreed[key[0]] += 1
        return []


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
        """Run ``feeds`` (e.g. `follow` calls) and the sweep that compares what has settled,
        until cancelled."""
        tasks = [asyncio.create_task(feed) for feed in feeds]
        tasks.append(asyncio.create_task(self._sweep()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def finish(self) -> None:
        """Compare everything still pending, settled or not."""
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
