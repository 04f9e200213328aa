"""Read-model databases: one small SQL surface over sqlite3 and psycopg, selected by the store URL.

It implements the read models' database port (`projections/ports.py`): projections write their
tables and their tracking position through `ReadModelDB.transaction()`, so
what a batch writes and how far it got commit together or not at all. SQL is written once, with
``?`` placeholders; for PostgreSQL they become ``%s``. Keep ``?`` and ``%`` out of SQL literals.

- ``memory://``         an in-memory SQLite database (unit tests: same SQL, same transactions)
- ``sqlite:///path``    the same file as the event store, in its own tables
- ``postgresql://...``  the same database as the event store, in its own tables

Nothing connects at import time; `open_readmodel` connects lazily on first use.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from warden.adapters.store import StoreConfig


class Tx:
    """One open transaction. ``execute`` returns the cursor; rows come back as tuples."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgres" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self._cursor.execute(self.sql(statement), tuple(params))
        return self._cursor

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self.sql(statement), [tuple(r) for r in rows])

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(statement, params).fetchall())

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.execute(statement, params).fetchone()

    @property
    def for_update(self) -> str:
        """Row lock suffix for a SELECT. SQLite needs none: ``BEGIN IMMEDIATE`` locks the file."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""


class ReadModelDB:
    """A connection used by one thread at a time, with a commit counter (batches are observable)."""

    def __init__(self, connect: Callable[[], Any], dialect: str, display: str) -> None:
        self._connect = connect
        self.dialect = dialect
        self.display = display
        self.commits = 0
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._conn is None or getattr(self._conn, "closed", False):
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Everything done with the yielded `Tx` commits together, or rolls back on any exception."""
        with self._lock:
            conn = self._connection()
            if self.dialect == "postgres":
                with conn.transaction(), conn.cursor() as cursor:
                    yield Tx(cursor, self.dialect)
            else:
                cursor = conn.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(cursor, self.dialect)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            self.commits += 1

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction (does not count as a commit)."""
        with self._lock:
            cursor = self._connection().cursor()  # both connections autocommit outside transaction()
            try:
                return Tx(cursor, self.dialect).fetchall(statement, params)
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def open_readmodel(url: str) -> ReadModelDB:
    """The read-model database that lives beside the event store at ``url``."""
    config = StoreConfig.from_url(url)
    if config.kind == "postgres":
        import psycopg  # imported here: SQLite-only installs and tests need no driver loaded

        env = config.env
        kwargs = {"host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
                  "dbname": env["POSTGRES_DBNAME"], "user": env["POSTGRES_USER"],
                  "password": env["POSTGRES_PASSWORD"] or None, "connect_timeout": 10}
        return ReadModelDB(lambda: psycopg.connect(autocommit=True, **kwargs), "postgres",
                           config.display)
    path = ":memory:" if config.kind == "memory" else config.env["SQLITE_DBNAME"]

    def connect() -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves. check_same_thread=False: runners call
        # in from asyncio.to_thread; the ReadModelDB lock keeps it to one thread at a time.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        return conn

    return ReadModelDB(connect, "sqlite", config.display)
