"""What the engine benchmark reads from outside the service while it runs: the log in PostgreSQL
(how far behind the market its newest price is, when it went quiet, how big it is) and the
venue's round trip.

A price event is any recorded event whose class name says Mark or Price and not Stop
(``MarkPriceObserved`` today; a price tape's events after it): the benchmark does not depend on
which. Its ``timestamp`` is the venue's time of the tick it records.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime

import psycopg

from bench.logfill import table
from warden.adapters.store import WardenStore


def is_price_event(event: object) -> bool:
    name = type(event).__name__
    return ("Mark" in name or "Price" in name) and "Stop" not in name


def head(store: WardenStore) -> int:
    return store.recorder.max_notification_id() or 0


def newest_price_time(store: WardenStore, look_back: int = 400) -> datetime | None:
    """The venue time of the newest price recorded among the last ``look_back`` events."""
    last = head(store)
    rows = store.recorder.select_notifications(start=max(1, last - look_back + 1), limit=look_back)
    times = [e.timestamp for e in map(store.mapper.to_domain_event, rows) if is_price_event(e)]
    return max(times) if times else None


def lag_s(store: WardenStore) -> float | None:
    """Seconds between now and the newest recorded price's venue time."""
    newest = newest_price_time(store)
    return None if newest is None else time.time() - newest.timestamp()


def quiet_after(store: WardenStore, since: float, quiet_s: float = 2.0, limit_s: float = 60.0,
                poll_s: float = 0.01) -> float | None:
    """Wall time at which the last price event appeared in the log after ``since``, once no new
    one has appeared for ``quiet_s``; None if none appeared at all."""
    seen, last_price_at = head(store), None
    deadline = time.time() + limit_s
    while time.time() < deadline:
        now = time.time()
        newest = head(store)
        if newest > seen:
            rows = store.recorder.select_notifications(start=seen + 1, limit=newest - seen)
            if any(is_price_event(store.mapper.to_domain_event(r)) for r in rows):
                last_price_at = now
            seen = newest
        if now - (last_price_at or since) > quiet_s:
            break
        time.sleep(poll_s)
    return last_price_at


def settled_after(read: Callable[[], float], since: float, quiet_s: float = 2.0, limit_s: float = 60.0,
                  poll_s: float = 0.02) -> float | None:
    """Wall time at which ``read()`` (a counter, e.g. the marks the positions took) last changed
    after ``since``, once it has not changed for ``quiet_s``; None if it did not change at all."""
    seen, changed_at = read(), None
    deadline = time.time() + limit_s
    while time.time() < deadline:
        now, value = time.time(), read()
        if value != seen:
            seen, changed_at = value, now
        if now - (changed_at or since) > quiet_s:
            break
        time.sleep(poll_s)
    return changed_at


def log_bytes(url: str, store: WardenStore) -> tuple[int, int]:
    """Bytes of the log (events and snapshots tables, with their indexes) and of the database."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND (tablename = %s OR tablename LIKE %s)", (table(store), "%snapshot%")).fetchall()]
        log = sum(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in tables)
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return int(log), int(database)


def relation_bytes(url: str, relation: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_total_relation_size(%s)", (relation,)).fetchone()[0])


def round_trip_ms(rest_url: str, tries: int = 7) -> float:
    """The venue's REST round trip (its latency included), the median of ``tries`` plain GETs."""
    def once() -> float:
        start = time.perf_counter()
        with urllib.request.urlopen(f"{rest_url}/v5/market/time", timeout=10) as answer:
            answer.read()
        return (time.perf_counter() - start) * 1000
    return statistics.median(once() for _ in range(tries))


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.5) -> float:
    """Seconds it took ``check`` to hold; raises when it did not within ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(poll)
    return time.monotonic() - start
