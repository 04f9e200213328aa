"""The projection runner: follows the store's notification log into a read model, exactly once.

It polls ``recorder.select_notifications(start=position + 1, limit=batch_size)`` (every store
supports that; the SQLite recorder has no subscription and the PostgreSQL one has no polling
fallback), and `wake()` lets the engine cut the wait short after each save. Each page is one
transaction: the projection's writes and the new tracking position commit together, so a crash
between batches reprocesses nothing already committed and a crash inside a batch commits nothing
of it. See docs/projections.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.utils import resolve_topic

from warden.projections.ports import EventLog, ReadModelDB, Tx

log = logging.getLogger(__name__)


class Projection(Protocol):
    """A read model fed by the runner. ``apply`` must only write through ``tx``."""

    name: str  # the tracking key: one position per name

    def wants(self, event_class: type) -> bool:
        """Whether events of this class are passed to `apply` (the position advances regardless)."""

    def setup(self, tx: Tx) -> None:
        """Create the tables (idempotent)."""

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        """Fold one batch of decoded events, oldest first, into the tables."""


TRACKING_DDL = ("CREATE TABLE IF NOT EXISTS projection_tracking "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)")


def ensure_tracking(tx: Tx, name: str) -> None:
    """The tracking table and ``name``'s row (at 0), so a batch always has a row to lock."""
    tx.execute(TRACKING_DDL)
    tx.execute("INSERT INTO projection_tracking (name, position) VALUES (?, 0) "
               "ON CONFLICT (name) DO NOTHING", (name,))


def tracked_position(tx: Tx, name: str, *, lock: bool = False) -> int:
    """The last notification id whose effects ``name`` committed; 0 if it never ran."""
    row = tx.fetchone("SELECT position FROM projection_tracking WHERE name = ?"
                      + (tx.for_update if lock else ""), (name,))
    return int(row[0]) if row else 0


def record_position(tx: Tx, name: str, position: int) -> None:
    tx.execute("UPDATE projection_tracking SET position = ? WHERE name = ?", (position, name))


class ProjectionConflict(RuntimeError):
    """Another runner with the same name committed first; this one must re-read its position."""


class ProjectionRunner:
    def __init__(self, store: EventLog, db: ReadModelDB, projection: Projection, *,
                 batch_size: int = 1000, poll_interval: float = 1.0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.store, self.db, self.projection = store, db, projection
        self.name = projection.name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.position: int | None = None  # the last committed notification id; None until setup
        self.head = 0  # the last notification id seen in the log
        self.batches = 0  # batches committed by this runner object
        self._wanted: dict[str, bool] = {}
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ----- synchronous core (called in a worker thread by `run`) ------------------------------
    def setup(self) -> int:
        """Create the tables and read the tracked position: a restart resumes from there."""
        with self.db.transaction() as tx:
            ensure_tracking(tx, self.name)
            self.projection.setup(tx)
            self.position = tracked_position(tx, self.name)
        self.head = max(self.head, self.position)
        return self.position

    def step(self) -> int:
        """Process at most one batch in one transaction; the number of notifications it covered."""
        position = self.setup() if self.position is None else self.position
        page = self.store.recorder.select_notifications(start=position + 1, limit=self.batch_size)
        if not page:
            self.head = max(self.head, self._max_id())
            return 0
        events = [self.store.mapper.to_domain_event(n) for n in page if self._wants(n.topic)]
        last = page[-1].id
        with self.db.transaction() as tx:
            committed = tracked_position(tx, self.name, lock=True)
            if committed != position:
                self.position = committed
                raise ProjectionConflict(f"{self.name}: tracked position moved to {committed} "
                                         f"under this runner (two runners with one name?)")
            self.projection.apply(tx, events)
            record_position(tx, self.name, last)
        self.position, self.batches = last, self.batches + 1
        self.head = max(self.head, last)
        return len(page)

    def catch_up(self) -> int:
        """Run batches until the log has nothing new; the number of notifications processed."""
        total = 0
        while n := self.step():
            total += n
        return total

    @property
    def lag(self) -> int:
        return max(0, self.head - (self.position or 0))

    def refresh_head(self) -> int:
        self.head = max(self.head, self._max_id())
        return self.head

    def _max_id(self) -> int:
        return self.store.recorder.max_notification_id() or 0

    def _wants(self, topic: str) -> bool:
        wanted = self._wanted.get(topic)
        if wanted is None:  # resolve once per topic; resolve_topic honours registered aliases
            wanted = self._wanted[topic] = self.projection.wants(resolve_topic(topic))
        return wanted

    # ----- asyncio loop ------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow the log until cancelled. Exceptions propagate (the supervisor restarts)."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        await asyncio.to_thread(self.setup)
        while True:
            self._wakeup.clear()
            # while the store is down nothing new can be in the log, and a read would only wait
            # (in a thread, with the database driver's retries): the runner waits for it instead
            processed = await asyncio.to_thread(self.step) if self.store.available else 0
            if processed:
                continue  # more may be waiting: no sleep while catching up
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)

    def wake(self) -> None:
        """The engine's hook after each save: look at the log now rather than at the next poll.

        Safe to call from any thread, and before or without `run` (then it does nothing)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)
