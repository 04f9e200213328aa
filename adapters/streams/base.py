"""What every private stream shares: the event queue, de-duplication, backoff and the resync.

After each (re)connect a stream calls `resync`, which takes a REST positions snapshot through the
`ExchangePort`: ccxt.pro does not re-fetch after a reconnect and the venues do not replay what was
pushed while the socket was down, so the snapshot is the only way to learn about the gap.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from warden.adapters.streams.dedup import Sequencer
from warden.adapters.streams.events import (
    Connection,
    PositionSnapshot,
    Report,
    StreamEvent,
    StreamRejection,
    StreamStatus,
)
from warden.domain.reports import PositionReport
from warden.domain.values import ZERO, ReportSource
from warden.engine.errors import Retryable
from warden.engine.ports import ExchangePort


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``min(cap, base * 2**n)`` scaled by a factor in [0.5, 1)."""

    base: float = 0.5
    cap: float = 30.0
    rng: Callable[[], float] = random.random

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** max(failures - 1, 0)) * (0.5 + self.rng() / 2)


class PrivateStream:
    """Base of the private streams; subclasses implement `_run` and call the helpers."""

    feed = "private"

    def __init__(self, port: ExchangePort, *, backoff: Backoff | None = None,
                 queue_size: int = 10_000) -> None:
        self.port = port
        self.backoff = backoff or Backoff()
        self.sequencer = Sequencer()
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue(queue_size)
        self.attempt = 0  # connections made so far, minus one
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"stream:{self.feed}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def events(self) -> AsyncIterator[StreamEvent]:
        while True:
            yield await self.queue.get()

    async def next_event(self, timeout: float) -> StreamEvent:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def _run(self) -> None:
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------------

    def emit(self, report: Report) -> None:
        if self.sequencer.admit(report):
            self.queue.put_nowait(report)

    def reject(self, reason: str, raw_text: str) -> None:
        self.queue.put_nowait(StreamRejection(self.feed, reason, raw_text))

    def status(self, state: Connection, reason: str = "") -> None:
        self.queue.put_nowait(StreamStatus(self.feed, state, self.attempt, reason))

    async def fetch_positions(self, retries: int = 5) -> list[PositionReport]:
        for failure in range(retries + 1):
            try:
                return await self.port.fetch_positions()
            except Retryable:
                if failure == retries:
                    raise
                await asyncio.sleep(self.backoff.delay(failure + 1))
        return []

    async def resync(self) -> PositionSnapshot:
        """REST snapshot merged with what the stream already knows (the newer state wins)."""
        positions = await self.fetch_positions()
        for position in positions:
            self.sequencer.admit(position)
        newest = self.sequencer.positions()
        listed = {p.symbol for p in positions}
        for symbol in newest.keys() - listed:
            self.sequencer.forget(symbol)  # absent from the snapshot: flat, whatever was pushed
        merged = tuple(newest[p.symbol] for p in positions if not newest[p.symbol].is_flat)
        snapshot = PositionSnapshot(self.feed, self.attempt, merged)
        self.queue.put_nowait(snapshot)
        return snapshot

    async def verify(self) -> None:
        """Re-read positions by REST and emit what differs from the pushed state."""
        positions = await self.fetch_positions()
        listed = {p.symbol for p in positions}
        for position in positions:
            self.emit(position)
        for symbol, last in self.sequencer.positions().items():
            if symbol not in listed and not last.is_flat:
                self.emit(replace(last, side=None, size=ZERO, entry_price=None, stop_loss=None,
                                  source=ReportSource.REST, exchange_time=None, raw={}))

    async def wait_backoff(self, failures: int) -> None:
        await asyncio.sleep(self.backoff.delay(failures))
