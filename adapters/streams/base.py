"""What every private stream shares: supervision, the event queue, de-duplication and the resync.

A stream's `_run` is one *session*; `supervise` restarts it (capped, jittered backoff) whenever it
ends -- a REST outage that makes the resync fail included -- or goes quiet, so a feed never dies
for good and its `FeedHealth` always says what state it is really in.

After each (re)connect a stream calls `resync`, which takes a REST positions snapshot through the
`ExchangePort`: ccxt.pro does not re-fetch after a reconnect and the venues do not replay what was
pushed while the socket was down, so the snapshot is the only way to learn about the gap. The
stream reports itself CONNECTED only once that snapshot is taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from warden.adapters.streams.dedup import Sequencer
from warden.adapters.streams.events import (
    Connection,
    PositionSnapshot,
    Report,
    StreamEvent,
    StreamRejection,
    StreamStatus,
)
from warden.adapters.streams.rejections import Rejections
from warden.adapters.streams.supervision import Backoff, FeedHealth, supervise
from warden.domain.reports import PositionReport
from warden.domain.values import ZERO, ReportSource
from warden.engine.errors import Retryable
from warden.engine.ports import ExchangePort


class PrivateStream:
    """Base of the private streams; subclasses implement `_run` and call the helpers."""

    feed = "private"

    def __init__(self, port: ExchangePort, *, backoff: Backoff | None = None,
                 quiet_after: float = 60.0, queue_size: int = 10_000) -> None:
        self.port = port
        self.backoff = backoff or Backoff()
        self.quiet_after = quiet_after
        self.sequencer = Sequencer()
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue(queue_size)
        self.attempt = 0  # connections made so far, minus one
        self.health = FeedHealth(self.feed)
        self.rejections = Rejections(self.feed, self.health, self.queue.put_nowait)
        self._task: asyncio.Task[None] | None = None
        # id of a queued report -> the monotonic time its frame came in (`emit` runs as the frame
        # is read), until `arrival` hands it over with the report
        self._arrivals: dict[int, float] = {}

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(
                supervise(self._run, self.health, quiet_after=self.quiet_after, backoff=self.backoff,
                          restarted=self._restarted), name=f"stream:{self.feed}")

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
        """One session: connect, subscribe, resync, deliver until the connection is lost for good."""
        raise NotImplementedError

    async def _restarted(self, reason: str) -> None:
        self.status(Connection.RESTARTING, reason)
        await self._reset()

    async def _reset(self) -> None:
        """Drop what an ended session left behind (a half-open socket), so the next one dials anew."""

    # -- helpers for subclasses -----------------------------------------------------------------

    def emit(self, report: Report) -> None:
        if self.sequencer.admit(report):
            self._arrivals[id(report)] = self.health.monotonic()
            self.queue.put_nowait(report)

    def arrival(self, event: StreamEvent) -> float | None:
        """When the frame of a report taken from this stream came in (monotonic), once; None for
        what no frame carried (a status, a REST snapshot)."""
        return self._arrivals.pop(id(event), None)

    def reject(self, reason: str, raw_text: str | bytes) -> None:
        """A frame (or item) that is no report: counted, and recorded within the budget."""
        if isinstance(raw_text, bytes):
            raw_text = raw_text.decode("utf-8", "backslashreplace")
        self.rejections.add(StreamRejection(self.feed, reason, raw_text))

    def heard(self) -> None:
        self.health.heard()

    def status(self, state: Connection, reason: str = "") -> None:
        self.health.set(state, reason)
        self.health.reconnects = self.attempt
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
