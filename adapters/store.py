"""The event store: one URL selects in-memory, SQLite file or PostgreSQL.

- ``memory://``                          tests and throwaway runs
- ``sqlite:///path/to/warden.sqlite3``   the embedded default (``sqlite:///:memory:`` also works)
- ``postgresql://user@host:5432/db``     production

All three are eventsourcing recorders behind one `WardenStore` application, which registers the
domain's transcodings and snapshots aggregates so loading them does not grow with their history.
On SQLite and PostgreSQL the recorders are subclasses (`adapters/recorders.py`): same tables and
semantics, a faster log read and, on PostgreSQL, a faster insert.

Snapshot rule: a save whose events reach or cross a multiple of the aggregate's interval
(`SNAPSHOT_INTERVALS`) snapshots the aggregate once, at its version after that save, from the
object in memory (its state is exactly what the saved events replay to). eventsourcing's own rule
reloads the aggregate from the store at each multiple instead. The snapshot is written in the same
transaction as the events (the recorder subclasses take ``snapshots=``), so a save is one commit.

The engine saves through `record` (the `EventStore` port of `warden.engine.ports`): the
group-commit writer of `adapters/writer.py`, off the event loop. `save` (eventsourcing's) stays
for synchronous callers: imports, the demo's setup, benches. The running engine reads through
`read`: in a daemon thread, refused at once while the writer knows the store is unavailable, and
given up after `READ_WAIT_S` (`StoreUnavailable` either way), so no read holds up the event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Notification, Recording, StoredEvent, Transcoder
from eventsourcing.utils import Environment

from warden.adapters.threads import in_thread
from warden.adapters.transcodings import FastJSONTranscoder, register_domain_transcodings
from warden.adapters.writer import TRANSIENT, GroupWriter
from warden.domain.account import ExchangeAccount
from warden.domain.position import Position
from warden.domain.price_tape import PriceTape
from warden.engine.errors import StoreUnavailable

DEFAULT_STORE_URL = "sqlite:///var/warden.sqlite3"
READ_WAIT_S = 2.0  # the longest the running engine waits for a read before calling the store unavailable
T = TypeVar("T")
SNAPSHOT_INTERVALS = {Position: 50, ExchangeAccount: 100, PriceTape: 1000}  # a tape's state is one price


class StoreConfigError(ValueError):
    pass


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # "memory" | "sqlite" | "postgres"
    env: dict[str, str] = field(repr=False)
    display: str  # the URL with any password masked: safe to log

    @classmethod
    def from_url(cls, url: str) -> StoreConfig:
        if url in ("memory", "memory://"):
            return cls("memory", {"PERSISTENCE_MODULE": "warden.adapters.recorders:WardenPOPOFactory"},
                       "memory://")
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = unquote(parts.path.removeprefix("/")) if parts.netloc == "" else parts.netloc + parts.path
            if not path:
                raise StoreConfigError(f"store URL {url!r}: sqlite needs a file path")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
                   "SQLITE_LOCK_TIMEOUT": "10",
                   "APPLICATION_RECORDER_TOPIC": "warden.adapters.recorders:FastReadSQLiteRecorder"}
            return cls("sqlite", env, f"sqlite:///{path}")
        if parts.scheme in ("postgres", "postgresql"):
            if not parts.path.strip("/"):
                raise StoreConfigError(f"store URL {_mask(url)!r}: postgres needs a database name")
            env = {
                # eventsourcing's factory with plain-array inserts and a fast log read
                "PERSISTENCE_MODULE": "warden.adapters.recorders:WardenPostgresFactory",
                "POSTGRES_DBNAME": unquote(parts.path.strip("/")),
                "POSTGRES_HOST": parts.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parts.port or 5432),
                "POSTGRES_USER": unquote(parts.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
                # seconds to wait for a pooled connection (eventsourcing's default: 30); an outage
                # shows sooner, and the writer retries on its own (adapters/writer.py)
                "POSTGRES_CONNECT_TIMEOUT": "5",
                # Off on purpose: with eventsourcing 9.5.6 the DB functions misroute events
                # between applications sharing a database.
                "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            }
            return cls("postgres", env, _mask(url))
        raise StoreConfigError(
            f"store URL {_mask(url)!r}: expected memory://, sqlite:///PATH or postgresql://...")


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's `project_aggregate` without its per-event ``isinstance`` assert against a
    runtime-checkable Protocol, which on Python 3.11 was about half of every replay."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _Repository(Repository):
    """Replays with `project` unless a caller passes its own projector."""

    def get(self, aggregate_id: Any, *, projector_func: Any = project, **kwargs: Any) -> Any:
        return super().get(aggregate_id, projector_func=projector_func, **kwargs)


class WardenStore(Application):
    """The event-sourced application that owns the log. Configured only by its `StoreConfig`."""

    name = "warden"
    snapshotting_intervals = SNAPSHOT_INTERVALS

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        super().__init__(env=config.env)
        if self.snapshots is not None:  # written in the events' transaction (adapters/recorders.py)
            self.recorder.snapshot_recorder = self.snapshots.recorder
        self.writer = GroupWriter(self, snapshots_due=self.stored_snapshots)

    # ----- the engine's port (engine/ports.py EventStore) -----------------------------------------
    def record(self, *aggregates: Any) -> Any:
        """Queue the aggregates' pending events for the next group commit; the returned future
        resolves with their recordings once committed (adapters/writer.py)."""
        return self.writer.submit(*aggregates)

    @property
    def available(self) -> bool:
        return self.writer.available

    @property
    def unavailable_reason(self) -> str | None:
        return self.writer.unavailable_reason

    def withdraw(self, saved: asyncio.Future[list[Recording]]) -> None:
        """Drop a save its caller no longer waits for, if it is not committed yet (writer.py)."""
        self.writer.withdraw(saved)

    async def read(self, fn: Callable[..., T], *args: Any, wait_s: float | None = READ_WAIT_S) -> T:
        """``fn(*args)`` (a read of this store) off the event loop. `StoreUnavailable` at once while
        the store is known to be unavailable, and when it fails to answer within ``wait_s`` seconds
        (None: wait) or cannot be reached; the store's other errors (not found) propagate."""
        if not self.available:
            raise StoreUnavailable(f"store unavailable ({self.unavailable_reason})")
        try:
            return await asyncio.wait_for(in_thread(fn, *args, name="warden-read"), wait_s)
        except TimeoutError:
            raise StoreUnavailable(f"store unavailable (no answer to a read within {wait_s:g} s)") from None
        except TRANSIENT as e:
            raise StoreUnavailable(f"store unavailable ({type(e).__name__}: {e})") from e

    def close(self) -> None:
        self.writer.close()
        super().close()

    def construct_env(self, name: str, env: Any = None) -> Environment:
        # Unlike the base class, ignore os.environ: the URL is the one switch.
        merged = {"IS_SNAPSHOTTING_ENABLED": "y", **(env or {})}
        return Environment(name, merged)

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def construct_repository(self) -> Repository:
        # no aggregate cache: the env settings that would enable one are never passed
        return _Repository(event_store=self.events, snapshot_store=self.snapshots)

    def _record(self, processing_event: ProcessingEvent) -> list[Recording]:
        # Replaces eventsourcing's snapshot rule (see the module docstring): the snapshots of what
        # is in memory, in the events' transaction.
        snapshots = self.stored_snapshots(processing_event.aggregates, processing_event.events)
        return self.events.put(processing_event.events, tracking=processing_event.tracking,
                               snapshots=snapshots, **processing_event.saved_kwargs)

    def stored_snapshots(self, aggregates: dict[UUID, Any], events: list[Any]) -> list[StoredEvent]:
        """The snapshots these events make due (`due_snapshots`), encoded."""
        if self.snapshots is None:
            return []
        return [self.snapshots.mapper.to_stored_event(s) for s in due_snapshots(aggregates, events)]

    def _take_snapshots(self, processing_event: ProcessingEvent) -> None:
        """Taken by `_record`, in the same transaction."""

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None,
                      projector_func: Any = project) -> None:
        super().take_snapshot(aggregate_id, version=version, projector_func=projector_func)

    # The rest of the engine's `EventStore` port: load, has_events, ids_created_by (reads).
    def load(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored; `AggregateNotFoundError` when it has no events."""
        return self.repository.get(aggregate_id)

    def has_events(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def ids_created_by(self, topics: Collection[str]) -> Iterator[UUID]:
        return (n.originator_id for n in self.stored_notifications() if n.topic in topics)

    def history(self, originator_id: UUID, *, lte: int | None = None) -> list[DomainEventProtocol[Any]]:
        """Every stored event of one aggregate, oldest first (snapshots are not events)."""
        return list(self.events.get(originator_id, lte=lte))

    def all_events(self, *, batch: int = 1000) -> Iterator[DomainEventProtocol[Any]]:
        """The whole log in recorded order, decoded, read in batches."""
        to_domain_event = self.mapper.to_domain_event
        for page in self._pages(batch):
            yield from map(to_domain_event, page)

    def stored_notifications(self, *, batch: int = 1000, start: int = 1) -> Iterator[Notification]:
        """The log in recorded order from notification id ``start``, undecoded, as eventsourcing
        `Notification`s."""
        for page in self._pages(batch, start):
            for row in page:
                yield Notification(id=row.id, originator_id=row.originator_id,
                                   originator_version=row.originator_version, topic=row.topic,
                                   state=row.state)

    def _pages(self, batch: int, start: int = 1) -> Iterator[Sequence[Any]]:
        # The SQLite and PostgreSQL recorders (adapters/recorders.py) fetch plain tuple rows; the
        # in-memory one has only select_notifications. Either way each row has Notification's fields.
        select = getattr(self.recorder, "select_notification_rows", None)
        if select is None:
            def select(start: int, limit: int) -> Sequence[Any]:
                return self.recorder.select_notifications(start=start, limit=limit)
        while True:
            page = select(start, batch)
            if not page:
                return
            yield page
            start = page[-1].id + 1


def due_snapshots(aggregates: dict[UUID, Any], events: list[Any]) -> list[Any]:
    """Snapshots of the aggregates whose ``events`` reach a multiple of their interval, taken from
    the objects as they are now (right after those events)."""
    due = {}
    for event in events:
        aggregate = aggregates.get(event.originator_id)
        interval = SNAPSHOT_INTERVALS.get(type(aggregate))
        if interval and event.originator_version % interval == 0:
            due[event.originator_id] = aggregate
    return [type(aggregate).Snapshot.take(aggregate) for aggregate in due.values()]


def open_store(url: str) -> WardenStore:
    return WardenStore(StoreConfig.from_url(url))


class UnknownAggregate(LookupError):
    pass


def resolve_id(store: WardenStore, text: str) -> UUID:
    """A full UUID, or a unique prefix of one (as printed in timelines), present in the store."""
    try:
        candidate = UUID(text)
    except ValueError:
        prefix = text.replace("-", "").lower()
        if len(prefix) < 6:
            raise UnknownAggregate(f"{text!r} is neither an id nor a prefix of >= 6 hex digits") from None
        found = {n.originator_id for n in store.stored_notifications()
                 if n.originator_id.hex.startswith(prefix)}
        if len(found) > 1:
            raise UnknownAggregate(f"{text!r} matches {len(found)} aggregates; give more digits") from None
        if not found:
            raise UnknownAggregate(
                f"no aggregate id starts with {text!r} in {store.config.display}") from None
        return found.pop()
    if not store.recorder.select_events(candidate, limit=1):
        raise UnknownAggregate(f"no aggregate {candidate} in {store.config.display}")
    return candidate
