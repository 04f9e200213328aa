"""The raw ceilings: the same rows written and read with the bare driver, no eventsourcing.

Each baseline owns a table shaped like eventsourcing's ``stored_events`` on that backend (same
columns, primary key and notification-id index) and is fed the very rows warden stored (same ids,
topics and state bytes), so the only difference left is the code between the caller and the driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from time import perf_counter
from typing import Protocol
from uuid import UUID

import psycopg

Row = tuple[UUID, int, str, bytes]  # originator_id, originator_version, topic, state


class RawBaseline(Protocol):
    def reset(self) -> None: ...
    def insert(self, rows: Sequence[Row], per_batch: int) -> float: ...
    def read_all(self) -> float: ...
    def close(self) -> None: ...


def _batches(rows: Sequence[Row], size: int) -> list[Sequence[Row]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


class PostgresRaw:
    """psycopg 3 on its own connection: ``INSERT ... SELECT FROM unnest(arrays)``, binary read."""

    DDL = (
        "CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
        " topic text, state bytea, notification_id bigserial,"
        " PRIMARY KEY (originator_id, originator_version))",
        "CREATE UNIQUE INDEX raw_events_notification_id_idx ON raw_events (notification_id ASC)",
    )
    INSERT = ("INSERT INTO raw_events (originator_id, originator_version, topic, state)"
              " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])")

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        for statement in self.DDL:
            self.conn.execute(statement)

    def reset(self) -> None:
        self.conn.execute("TRUNCATE raw_events RESTART IDENTITY")

    def insert(self, rows: Sequence[Row], per_batch: int) -> float:
        """Seconds to insert ``rows``, one autocommitted statement per batch."""
        batches = [tuple(map(list, zip(*batch, strict=True))) for batch in _batches(rows, per_batch)]
        with self.conn.cursor() as cur:
            start = perf_counter()
            for params in batches:
                cur.execute(self.INSERT, params, prepare=True)
            return perf_counter() - start

    def read_all(self) -> float:
        """Seconds to fetch the whole table in log order with a binary cursor."""
        with self.conn.cursor(binary=True) as cur:
            start = perf_counter()
            cur.execute("SELECT originator_id, originator_version, topic, state, notification_id"
                        " FROM raw_events ORDER BY notification_id")
            cur.fetchall()
            return perf_counter() - start

    def close(self) -> None:
        self.conn.close()


class SQLiteRaw:
    """The stdlib ``sqlite3`` on the same kind of file (WAL, the defaults eventsourcing leaves)."""

    DDL = ("CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER, topic TEXT,"
           " state BLOB, PRIMARY KEY (originator_id, originator_version))")
    INSERT = "INSERT INTO raw_events VALUES (?,?,?,?)"

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(self.DDL)

    def reset(self) -> None:
        self.conn.execute("DELETE FROM raw_events")

    def insert(self, rows: Sequence[Row], per_batch: int) -> float:
        """Seconds to insert ``rows``, one transaction (one ``executemany``) per batch."""
        batches = [[(r[0].hex, r[1], r[2], r[3]) for r in batch] for batch in _batches(rows, per_batch)]
        start = perf_counter()
        for batch in batches:
            self.conn.execute("BEGIN")
            self.conn.executemany(self.INSERT, batch)
            self.conn.execute("COMMIT")
        return perf_counter() - start

    def read_all(self) -> float:
        """Seconds to fetch the whole table in log (rowid) order."""
        start = perf_counter()
        self.conn.execute("SELECT rowid, * FROM raw_events ORDER BY rowid").fetchall()
        return perf_counter() - start

    def close(self) -> None:
        self.conn.close()
