"""A long event log made quickly, and the two measures that read it whole (P2 replay's parts).

`fill` grows a store's log to a number of events by copying recorded histories
(`histories_to_copy`): every position that ran to its close in the benchmark's own ingest phase,
and the streams no read model follows, under fresh aggregate ids (the stored state bytes
unchanged), inserted through the store's recorder in large batches. The copies are closed, so they
add history without adding anything a cold start must load, reconcile or verify; their mix of
events is whatever the engine of this checkout records.

`rebuild` runs every read model of the service (`PositionsView`, `AccountsView`) from the first
event of a log into a fresh read-model database, the way `warden run` catches up at startup.
`raw_read` is its baseline: the same rows fetched by the bare driver, in log order, not decoded.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from cProfile import Profile

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.store import WardenStore
from warden.projections.accounts_view import AccountsView
from warden.projections.positions_view import PositionsView
from warden.projections.runner import ProjectionRunner

Row = tuple[uuid.UUID, int, str, bytes]
BATCH = 5_000


def table(store: WardenStore) -> str:
    return store.recorder.events_table_name  # type: ignore[attr-defined]


def histories_to_copy(url: str, store: WardenStore) -> list[list[Row]]:
    """The aggregate histories a long log is copied from, each in version order: every position
    that reached ``PositionClosed``, and every stream no read model follows (the signal books, and a
    price tape's streams in a build that records one). Open positions are left out (a cold start
    would load them), and so are the exchange accounts (their copies would overwrite the accounts'
    rows in ``accounts_view``)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT originator_id, originator_version, topic, state FROM {table(store)}"
                            " ORDER BY originator_id, originator_version").fetchall()
    histories: dict[uuid.UUID, list[Row]] = {}
    for row in rows:
        histories.setdefault(row[0], []).append((row[0], row[1], row[2], bytes(row[3])))
    positions, accounts = PositionsView(store), AccountsView()
    kept = []
    for history in histories.values():
        classes = [resolve_topic(topic) for _, _, topic, _ in history]
        if any(positions.wants(c) for c in classes):
            if any(c.__name__ == "PositionClosed" for c in classes):
                kept.append(history)
        elif not any(accounts.wants(c) for c in classes):
            kept.append(history)
    return kept


def count(url: str, store: WardenStore) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(f"SELECT count(*) FROM {table(store)}").fetchone()
    return int(found[0]) if found else 0


def fill(store: WardenStore, templates: Sequence[Sequence[Row]], events: int) -> int:
    """Insert copies of ``templates`` until ``events`` more are stored; the number inserted."""
    if not templates:
        raise RuntimeError("no history to copy: the ingest phase closed no position")
    inserted, batch = 0, []
    while inserted < events:
        for history in templates:
            new_id = uuid.uuid4()
            batch += [StoredEvent(new_id, version, topic, state) for _, version, topic, state in history]
            inserted += len(history)
            if len(batch) >= BATCH or inserted >= events:
                store.recorder.insert_events(batch)
                batch = []
            if inserted >= events:
                break
    if batch:
        store.recorder.insert_events(batch)
    return inserted


def vacuum(url: str, store: WardenStore) -> None:
    """What autovacuum does to a log that grew over days: hint bits set, statistics current. Without
    it the first read of freshly inserted rows writes every page back, whichever reader comes first."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {table(store)}")


def raw_read(url: str, store: WardenStore, reps: int = 2) -> tuple[float, int]:
    """Seconds to fetch the whole log in order with a binary psycopg cursor (the best of ``reps``),
    and the rows."""
    best, rows = float("inf"), 0
    with psycopg.connect(url) as conn, conn.cursor(binary=True) as cur:
        for _ in range(reps):
            start = time.perf_counter()
            cur.execute(f"SELECT notification_id, originator_id, originator_version, topic, state"
                        f" FROM {table(store)} ORDER BY notification_id")
            rows = len(cur.fetchall())
            best = min(best, time.perf_counter() - start)
    return best, rows


def rebuild(store: WardenStore, readmodel_url: str, profile: Profile | None = None) -> tuple[float, int]:
    """Seconds to bring every read model from nothing to the end of the log, and the events read
    (``profile``, when given, runs while it does)."""
    db = open_readmodel(readmodel_url)
    runners = [ProjectionRunner(store, db, view) for view in (PositionsView(store), AccountsView())]
    start = time.perf_counter()
    processed = 0
    with profile or contextlib.nullcontext():
        for runner in runners:
            runner.setup()
            processed = max(processed, runner.catch_up())
    return time.perf_counter() - start, processed


def catch_up(store: WardenStore, url: str) -> None:
    """The store's own read models brought to the end of the log (what the service keeps)."""
    db = open_readmodel(url)
    for view in (PositionsView(store), AccountsView()):
        runner = ProjectionRunner(store, db, view)
        runner.setup()
        runner.catch_up()
