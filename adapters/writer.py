"""The group-commit writer: every save of the engine goes through one thread that commits what is
pending at that moment in one transaction.

`GroupWriter.submit` runs on the event loop: it takes the aggregates' pending events at once (so
the order of calls is the order of the log, per aggregate and overall), takes the snapshots that
are due from the objects in memory (their state is exactly what those events replay to, see
`adapters/store.py`), and returns an `asyncio.Future` that resolves with the recordings once the
transaction has committed. The thread takes every item queued by then, encodes the events and
writes events and snapshots of all of them with one ``insert_events`` (`adapters/recorders.py`):
one lock, one insert, one commit and one fsync for the lot, as PostgreSQL's own group commit does.

When a commit fails:

- **The store is unreachable** (`OperationalError`, `InterfaceError`: the server is down, the
  connection dropped, the pool timed out, SQLite is locked): the writer says so at once
  (`available` False, `unavailable_reason`) and retries the same batch, in order, with a backoff of
  up to `MAX_BACKOFF_S`, until it commits. Nothing is dropped and nothing behind it is written
  first, so the log never skips a version; the callers awaiting those saves wait (an intent is
  never followed by its exchange call before it is on disk). A commit whose answer was lost may
  have happened: before each retry the writer looks for the batch's first event and, when it is
  there, takes the batch as committed.
- **The batch itself is refused** (a version conflict, bad data): the items are committed one by
  one so the others still commit; the refused item's future raises the store's error. Its
  aggregates that already had a stored history are reloaded from the store in place, so none is
  left ahead of the log, and any later item of such an aggregate queued meanwhile is refused too
  (`VersionGap`) instead of being written after a hole.

While idle with ``watch`` on (the service), the thread pings the store every `PING_INTERVAL_S`, so
an outage shows in `available` without waiting for a write. A commit or ping that has not answered
for `STALL_S` counts as an outage too (`available` False, "no answer from the store for N s"), so a
database that hangs rather than refuses shows as fast as one that is down.

A caller that stopped waiting (a signal answered 503 after its bounded wait, `Engine.submit`) may
`withdraw` its save: while it is not committed yet -- still queued, or in a batch the store keeps
refusing -- it is dropped and its future raises `Withdrawn`; a save already on its way to the
store may still commit, and then its future resolves as usual (the caller decides what that means).
Only a save of new aggregates (their first events) with nothing queued behind it can be withdrawn:
dropping anything else would leave a hole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, Recording, StoredEvent

log = logging.getLogger("warden.store")

MAX_BACKOFF_S = 1.0
PING_INTERVAL_S = 1.0
STALL_S = 1.0  # a commit or ping unanswered this long: the store counts as unavailable
IDLE_EXIT_S = 5.0  # an idle writer that is not watching ends its thread; the next save starts one
TRANSIENT = (OperationalError, InterfaceError)


class Withdrawn(Exception):
    """A save its caller withdrew before it was committed: nothing of it was written."""


class VersionGap(Exception):
    """An item of an aggregate whose earlier events were refused: writing it would leave a hole."""


@dataclass
class _Item:
    aggregates: list[Any]
    events: list[Any]
    snapshots: list[StoredEvent]
    future: asyncio.Future[list[Recording[Any]]]
    loop: asyncio.AbstractEventLoop
    seq: int = 0  # submission order
    queued: float = field(default_factory=time.perf_counter)
    withdrawn: bool = False

    def first_versions(self) -> dict[UUID, int]:
        first: dict[UUID, int] = {}
        for event in self.events:
            first.setdefault(event.originator_id, event.originator_version)
        return first


class GroupWriter:
    """One thread committing for one store (see the module docstring). ``store`` is a
    `WardenStore`: its ``recorder`` has ``commit``/``ping`` (adapters/recorders.py)."""

    def __init__(self, store: Any, *,
                 snapshots_due: Callable[[dict[UUID, Any], list[Any]], list[StoredEvent]],
                 max_backoff_s: float = MAX_BACKOFF_S, ping_interval_s: float = PING_INTERVAL_S) -> None:
        self.store = store
        self._snapshots_due = snapshots_due
        self.max_backoff_s, self.ping_interval_s = max_backoff_s, ping_interval_s
        self._pending: deque[_Item] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._refused: set[UUID] = set()  # aggregates with a refused item
        self._seq = 0  # items submitted
        self._clean_from: dict[UUID, int] = {}  # refused aggregate -> first item built after its reload
        self.watch = False
        self._available = True
        self._reason: str | None = None
        self._asking_since: float | None = None  # time.monotonic() a commit or ping was sent
        self._batch: list[_Item] = []  # what the thread is committing
        self.down_since: float | None = None  # time.monotonic() of the first failure of an outage
        self.batches = 0  # transactions committed
        self.committed = 0  # items committed
        self.largest_batch = 0

    # ----- the loop's side ----------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._available and self._stalled() is None

    @property
    def unavailable_reason(self) -> str | None:
        stalled = self._stalled()
        if self._available and stalled is not None:
            return f"no answer from the store for {stalled:.1f} s"
        return self._reason

    def _stalled(self) -> float | None:
        since = self._asking_since
        waited = None if since is None else time.monotonic() - since
        return waited if waited is not None and waited >= STALL_S else None

    def withdraw(self, future: asyncio.Future[Any]) -> None:
        """Drop the save of ``future`` if it is not committed yet (see the module docstring)."""
        with self._wake:
            for item in self._pending:
                if item.future is future:
                    if self._can_withdraw(item, list(self._pending)):
                        self._pending.remove(item)
                        _on_loop(item.loop, _withdrawn, item.future)
                    return
            for item in self._batch:
                if item.future is future and self._can_withdraw(item, self._batch + list(self._pending)):
                    item.withdrawn = True  # dropped before the next attempt
                    return

    @staticmethod
    def _can_withdraw(item: _Item, queue: list[_Item]) -> bool:
        versions = item.first_versions()
        if not versions or any(v != 1 for v in versions.values()):
            return False
        behind = queue[queue.index(item) + 1:]
        return not any(oid in later.first_versions() for later in behind for oid in versions)

    def submit(self, *aggregates: Any) -> asyncio.Future[list[Recording[Any]]]:
        """Queue the aggregates' pending events; the future resolves once they are committed, and
        with them everything queued before (so with no pending events it says just that)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Recording[Any]]] = loop.create_future()
        events: list[Any] = []
        by_id: dict[UUID, Any] = {}
        for aggregate in aggregates:
            events.extend(aggregate.collect_events())
            by_id[aggregate.id] = aggregate
        # Encoded now: the object goes on changing on the loop while the item waits.
        snapshots = self._snapshots_due(by_id, events)
        with self._wake:
            if self._closing:
                raise RuntimeError("the store's writer is closed")
            self._seq += 1
            item = _Item(list(aggregates), events, snapshots, future, loop, self._seq)
            self._pending.append(item)
            self._start()
            self._wake.notify()
        return future

    def start_watching(self) -> None:
        """Ping the store while idle, so `available` follows it without writes (the service)."""
        with self._wake:
            self.watch = True
            self._start()
            self._wake.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is queued (for up to ``timeout`` seconds), then stop the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="warden-writer", daemon=True)
            self._thread.start()

    # ----- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    if not self._wake.wait(self.ping_interval_s if self.watch else IDLE_EXIT_S):
                        if self.watch:
                            break
                        self._thread = None  # idle: no thread per store left waiting forever
                        return
                batch = list(self._pending)
                self._pending.clear()
                if not batch and self._closing:
                    return
            if batch:
                self._commit(batch)
            else:
                self._ping()

    def _ping(self) -> None:
        self._asking_since = time.monotonic()
        try:
            self.store.recorder.ping()
        except Exception as e:  # whatever stops a ping stops a commit
            self._down(e)
        else:
            self._up()
        finally:
            self._asking_since = None

    def _ping_until_up(self, backoff: float) -> None:
        while not self._closing:
            self._ping()
            if self._available:
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _commit(self, batch: list[_Item]) -> None:
        batch = self._drop_refused(batch)
        if not batch:
            return
        with self._wake:
            self._batch = batch
        try:
            self._commit_batch(batch)
        finally:
            with self._wake:
                self._batch = []

    def _commit_batch(self, batch: list[_Item]) -> None:
        to_stored = self.store.mapper.to_stored_event
        stored = [to_stored(event) for item in batch for event in item.events]
        snapshots = [s for item in batch for s in item.snapshots]
        if not stored:  # only waiters for what came before, which is committed
            self._settle(batch, stored, None)
            return
        backoff, attempt = 0.05, 0
        while True:
            self._asking_since = time.monotonic()
            try:
                if attempt and self._landed(stored[0]):
                    ids: Sequence[int] | None = None
                else:
                    if attempt:  # not written: what was withdrawn meanwhile never will be
                        batch, stored, snapshots = self._without_withdrawn(batch, stored, snapshots)
                        if not batch:  # all withdrawn: the store is back once it answers a ping
                            self._asking_since = None
                            self._ping_until_up(backoff)
                            return
                    ids = self.store.recorder.commit(stored, snapshots)
            except TRANSIENT as e:
                self._asking_since = None
                self._down(e)
                attempt += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            except Exception as e:  # refused: find which item, commit the others
                self._asking_since = None
                if len(batch) == 1:
                    self._refuse(batch[0], e)
                else:
                    for item in batch:
                        self._commit([item])
                return
            self._up()
            self._asking_since = None
            self._settle(batch, stored, ids)
            return

    def _without_withdrawn(self, batch: list[_Item], stored: list[StoredEvent], snapshots: list[StoredEvent]
                           ) -> tuple[list[_Item], list[StoredEvent], list[StoredEvent]]:
        """The batch to retry without the items withdrawn meanwhile (their futures say so); called
        once the last attempt is known not to have landed."""
        with self._wake:
            gone = [item for item in batch if item.withdrawn]
            if not gone:
                return batch, stored, snapshots
            batch = self._batch = [item for item in batch if not item.withdrawn]
        for item in gone:
            _on_loop(item.loop, _withdrawn, item.future)
        to_stored = self.store.mapper.to_stored_event
        return (batch, [to_stored(event) for item in batch for event in item.events],
                [s for item in batch for s in item.snapshots])

    def _landed(self, first: StoredEvent) -> bool:
        """Did a commit whose answer was lost happen? (One transaction: its first event says.)"""
        recorder = self.store.recorder
        # once, without eventsourcing's retry decorator (ten attempts): the commit loop retries
        select = getattr(type(recorder).select_events, "__wrapped__", type(recorder).select_events)
        found = select(recorder, first.originator_id, gt=first.originator_version - 1,
                       lte=first.originator_version)
        return bool(found)

    def _settle(self, batch: list[_Item], stored: list[StoredEvent], ids: Sequence[int] | None) -> None:
        if stored:
            self.batches += 1
        self.committed += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        i = 0
        for item in batch:
            recordings = []
            for event in item.events:
                s = stored[i]
                # ids is None only when a lost answer was found committed: the ids are unknown
                recordings.append(Recording(event, Notification(
                    id=ids[i] if ids else 0, originator_id=s.originator_id,
                    originator_version=s.originator_version, topic=s.topic, state=s.state)))
                i += 1
            _on_loop(item.loop, _resolve, item.future, recordings)

    def _refuse(self, item: _Item, error: Exception) -> None:
        self._refused.update(item.first_versions())
        reloaded = self._reload(item)
        _on_loop(item.loop, self._fail, item, error, reloaded)

    def _fail(self, item: _Item, error: Exception, reloaded: dict[UUID, Any]) -> None:
        """On the loop: put the refused aggregates back to their stored state (items submitted from
        now on are built on it), then raise to the caller."""
        for aggregate in item.aggregates:
            fresh = reloaded.get(aggregate.id)
            if fresh is not None:
                state = vars(aggregate)
                state.clear()
                state.update(vars(fresh))
                self._clean_from[aggregate.id] = self._seq + 1
        if not item.future.done():
            item.future.set_exception(error)

    def _drop_refused(self, batch: list[_Item]) -> list[_Item]:
        """Items of an aggregate with a refused one, built before it was put back to its stored
        state, are refused as well (they follow events the log does not hold). An item built
        after, or a new object of that id (version 1), clears the mark."""
        if not self._refused:
            return batch
        kept = []
        for item in batch:
            behind = []
            for oid, version in item.first_versions().items():
                if oid not in self._refused:
                    continue
                if version == 1 or item.seq >= self._clean_from.get(oid, self._seq + 2):
                    self._refused.discard(oid)
                    self._clean_from.pop(oid, None)
                else:
                    behind.append(oid)
            if behind:
                self._refuse(item, VersionGap(f"aggregate {behind[0]} has unrecorded events before "
                                              "these; it was reloaded from the store"))
            else:
                kept.append(item)
        return kept

    def _reload(self, item: _Item) -> dict[UUID, Any]:
        """The stored state of the item's aggregates that have a stored history."""
        found = {}
        for originator_id, version in item.first_versions().items():
            if version <= 1:
                continue  # new: the caller drops it (a repeated signal's claim, say)
            try:
                found[originator_id] = self.store.load(originator_id)
            except Exception:  # reloaded at the next start instead
                log.exception("could not reload %s after a refused save", originator_id)
        return found

    def _down(self, error: Exception) -> None:
        reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
        if self._available:
            self.down_since = time.monotonic()
            log.error("the store is unavailable (%s); saves wait and are retried in order", reason)
        self._available, self._reason = False, reason

    def _up(self) -> None:
        if not self._available:
            log.warning("the store is available again after %.1f s",
                        time.monotonic() - (self.down_since or time.monotonic()))
        elif self._asking_since is not None and time.monotonic() - self._asking_since >= STALL_S:
            log.warning("the store answered after %.1f s", time.monotonic() - self._asking_since)
        self._available, self._reason, self.down_since = True, None, None


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this save any more
        loop.call_soon_threadsafe(callback, *args)


def _withdrawn(future: asyncio.Future[list[Recording[Any]]]) -> None:
    if not future.done():
        future.set_exception(Withdrawn("withdrawn before it was committed"))


def _resolve(future: asyncio.Future[list[Recording[Any]]], recordings: list[Recording[Any]]) -> None:
    if not future.done():
        future.set_result(recordings)
