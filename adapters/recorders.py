"""Recorder subclasses: one transaction for a group commit, and the two hot paths the
eventsourcing 9.5.6 recorders leave slow.

**One transaction for events and snapshots (every backend).** ``insert_events(stored, snapshots=...)``
writes the snapshot rows in the same transaction as the events (eventsourcing's own recorders pass
any keyword to ``_insert_events`` inside the transaction; these use ``snapshots``). The snapshot
recorder is the application's own (`WardenStore` sets ``snapshot_recorder``); its table is the
one eventsourcing reads snapshots from. ``commit(stored, snapshots)`` is the same insert without
eventsourcing's retry decorator (ten attempts with a pool wait each): the group-commit writer
(`adapters/writer.py`) has its own retry, which never gives up and says the store is down at once.

**Append (PostgreSQL).**
eventsourcing 9.5.6 binds a save's events as one ``stored_event_uuid[]`` parameter, which psycopg
dumps through a Python loop with a regex escape per row. These recorders bind
``unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])`` instead, which psycopg dumps with its
C dumpers. Only the parameters change: the application recorder still runs eventsourcing's own
``insert_events`` (one pipelined transaction: ``LOCK TABLE ... IN EXCLUSIVE MODE`` so notification
ids follow commit order, ``NOTIFY``, the insert with ``RETURNING notification_id``, a sync so a
version conflict raises `IntegrityError`). The tables and the composite type are unchanged, so a
database written by either recorder reads the same with the other.

**Reading the log (SQLite and PostgreSQL).** ``select_notification_rows(start, limit)`` returns
the rows ``select_notifications(start=start, limit=limit)`` would, in the same order, as
`NotificationRow` tuples: on PostgreSQL through a binary cursor with tuple rows (eventsourcing
fetches text rows as dicts), on SQLite with plain tuple rows instead of `sqlite3.Row`. The values
are the same types eventsourcing returns (`UUID`, ``int``, ``str``, ``bytes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.popo import POPOAggregateRecorder, POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import RowMaker
from psycopg.sql import SQL, Identifier


class NotificationRow(NamedTuple):
    """One row of the notification log: `eventsourcing.persistence.Notification`'s fields."""

    id: int
    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


def _notification_rows(_cursor: Any) -> RowMaker[NotificationRow]:
    return NotificationRow._make


class PlainArrayAggregateRecorder(PostgresAggregateRecorder):
    """Snapshots (and any aggregate recorder): the same rows, bound as four arrays."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        # Replaces the composite-array statement; the application recorder's __init__, which runs
        # after this one in its MRO, appends " RETURNING notification_id" to it as before.
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
            " AS e(originator_id, originator_version, topic, state)"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def _insert_stored_events(self, curs: Cursor[Any], stored_events: Sequence[StoredEvent],
                              **_: Any) -> None:
        # unnest of several arrays yields their elements in array order, as the composite did,
        # so notification ids still follow the order of ``stored_events``.
        curs.execute(self.insert_events_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ))


class PlainArrayApplicationRecorder(PostgresApplicationRecorder, PlainArrayAggregateRecorder):
    """eventsourcing's application recorder with the plain-array insert.

    MRO: this class, `PostgresApplicationRecorder` (lock, notify, then ``super()``),
    `PlainArrayAggregateRecorder` (the insert), `PostgresAggregateRecorder`.
    """


    snapshot_recorder: PlainArrayAggregateRecorder | None = None

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.select_rows_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {schema}.{table} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def _insert_events(self, curs: Cursor[Any], stored_events: Sequence[StoredEvent], *,
                       snapshots: Sequence[StoredEvent] = (), **kwargs: Any) -> None:
        # Runs inside insert_events' transaction (pipelined), before the events' insert.
        if snapshots:
            _snapshot_recorder(self)._insert_stored_events(curs, snapshots)
        super()._insert_events(curs, stored_events, **kwargs)

    def commit(self, stored_events: Sequence[StoredEvent],
               snapshots: Sequence[StoredEvent] = ()) -> Sequence[int] | None:
        """`insert_events` once, without its retry decorator (see the module docstring)."""
        return PostgresApplicationRecorder.insert_events.__wrapped__(  # type: ignore[attr-defined]
            self, stored_events, snapshots=snapshots)

    def ping(self) -> None:
        """Raise `OperationalError` (or `InterfaceError`) unless the database answers now."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT 1")

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notification_rows(self, start: int, limit: int) -> list[NotificationRow]:
        with self.datastore.get_connection() as conn, \
                conn.cursor(binary=True, row_factory=_notification_rows) as curs:
            curs.execute(self.select_rows_statement, (start, limit), prepare=True)
            return curs.fetchall()


class FastReadSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder with `select_notification_rows` and snapshots
    in the events' transaction."""

    snapshot_recorder: SQLiteAggregateRecorder | None = None

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *,
                       snapshots: Sequence[StoredEvent] = (), **kwargs: Any) -> Sequence[int] | None:
        # One executemany instead of eventsourcing's execute per row (for each row's lastrowid):
        # the transaction holds SQLite's write lock, so the rows get consecutive rowids (the
        # largest in use plus one each, the table having no AUTOINCREMENT), in this order.
        ids: list[int] = []
        if stored_events:
            c.executemany(self.insert_events_statement, [
                (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                 s.originator_version, s.topic, s.state) for s in stored_events])
            c.execute("SELECT last_insert_rowid()")
            last = c.fetchone()[0]
            ids = list(range(last - len(stored_events) + 1, last + 1))
        if snapshots:
            SQLiteAggregateRecorder._insert_events(_snapshot_recorder(self), c, snapshots)
        return ids

    def commit(self, stored_events: Sequence[StoredEvent],
               snapshots: Sequence[StoredEvent] = ()) -> Sequence[int] | None:
        return self.insert_events(stored_events, snapshots=snapshots)

    def ping(self) -> None:
        self.max_notification_id()

    def select_notification_rows(self, start: int, limit: int) -> list[NotificationRow]:
        statement = (f"SELECT rowid, originator_id, originator_version, topic, state"
                     f" FROM {self.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?")
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # tuples, not the connection's sqlite3.Row
            rows = cursor.execute(statement, (start, limit)).fetchall()
        convert = self.convert_originator_id
        return [NotificationRow(i, convert(o), v, t, s) for i, o, v, t, s in rows]


class SnapshottingPOPORecorder(POPOApplicationRecorder):
    """The in-memory application recorder with snapshots in the events' "transaction": both
    checked for uniqueness before either is written, under the events' lock."""

    snapshot_recorder: POPOAggregateRecorder | None = None

    def _insert_events(self, stored_events: Sequence[StoredEvent], *,
                       snapshots: Sequence[StoredEvent] = (), **kwargs: Any) -> Sequence[int] | None:
        snapshot_recorder = _snapshot_recorder(self)
        with self._database_lock, snapshot_recorder._database_lock:
            self._assert_uniqueness(stored_events, **kwargs)
            if snapshots:
                snapshot_recorder._assert_uniqueness(snapshots)
            ids = self._update_table(stored_events, **kwargs)
            if snapshots:
                snapshot_recorder._update_table(snapshots)
            return ids

    def commit(self, stored_events: Sequence[StoredEvent],
               snapshots: Sequence[StoredEvent] = ()) -> Sequence[int] | None:
        return self.insert_events(stored_events, snapshots=snapshots)

    def ping(self) -> None:
        """Memory always answers."""


class WardenPOPOFactory(POPOFactory):
    """eventsourcing's in-memory factory, making `SnapshottingPOPORecorder`."""

    def application_recorder(self) -> SnapshottingPOPORecorder:
        return SnapshottingPOPORecorder()


def _snapshot_recorder(recorder: Any) -> Any:
    if recorder.snapshot_recorder is None:
        raise RuntimeError("snapshots given to a recorder without a snapshot recorder")
    return recorder.snapshot_recorder


RECONNECT_S = 10.0  # how long psycopg's pool retries one lost connection before starting afresh


class WardenPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, making the plain-array recorders.

    Its pool gives up reconnecting a lost connection after `RECONNECT_S` instead of psycopg's 300 s.
    Within that time the pool's attempts back off (1, 2, 4 ... s apart), so after a database
    outage of 100 s the next attempt came 17 s after the server was back; a connection the pool
    gave up on is started afresh (an attempt at once) when the writer next asks for one, so now the
    store is writable again within seconds of the server, whatever the outage's length."""

    aggregate_recorder_class = PlainArrayAggregateRecorder
    application_recorder_class = PlainArrayApplicationRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_S
