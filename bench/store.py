"""Event-store benchmark: warden's `WardenStore` against the raw driver, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.store [--quick] [--pg-dsn postgresql://postgres@127.0.0.1:5432/postgres]

SQLite runs on files in a temp directory; PostgreSQL in a throwaway database created through
``--pg-dsn`` (a URL whose user may CREATE DATABASE) and dropped at the end. For each backend it
measures append throughput (1, 100 and 1,000 events per save; and 100 saves of one event each
through the group-commit writer, the engine's way), reading and decoding the whole
notification log, and loading positions with short and long histories, each beside a baseline
measured in the same run, then prints one table with PASS/MISS against the targets. Targets are
reported, never asserted: the exit status is 0 whenever the benchmark itself ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg

from bench.raw import PostgresRaw, RawBaseline, Row, SQLiteRaw
from bench.report import Figure, Target, render, summary
from bench.timing import median_of, timed
from bench.workload import append_run, build_history, group_commit_run, load
from warden.adapters.store import SNAPSHOT_INTERVALS, WardenStore, open_store
from warden.domain.position import Position

DEFAULT_PG = os.environ.get("WARDEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
APPEND_TARGET = Target(0.5, at_least=True)  # batched append >= 50% of the raw batched insert
READ_TARGET = Target(0.3, at_least=True)  # decoded read >= 30% of the raw read
LOAD_TARGET = Target(2.0, at_least=False)  # longest-history load <= 2x the 10-event load


@dataclass(frozen=True)
class Sizes:
    appends: tuple[tuple[int, int], ...]  # (events per save, saves per repetition)
    group: tuple[int, int]  # (positions saving one event each, rounds per repetition)
    histories: tuple[int, ...]  # position lengths to load; the first is the reference
    reps: int
    load_reps: int


FULL = Sizes(appends=((1, 2000), (100, 30), (1000, 6)), group=(100, 30),
             histories=(10, 10_000, 100_000), reps=3, load_reps=9)
QUICK = Sizes(appends=((1, 200), (100, 6), (1000, 2)), group=(100, 6),
              histories=(10, 1_000, 10_000), reps=3, load_reps=5)


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def drain(items: Iterator[object]) -> None:
    deque(items, maxlen=0)


def log_rows(store: WardenStore, start: int = 1, limit: int | None = None) -> list[Row]:
    """The stored log from notification ``start`` on, as raw rows (the exact bytes warden wrote)."""
    rows: list[Row] = []
    for n in store.stored_notifications():
        if n.id >= start:
            rows.append((n.originator_id, n.originator_version, n.topic, n.state))
        if limit is not None and len(rows) == limit:
            break
    return rows


def bench_appends(backend: str, store: WardenStore, raw: RawBaseline, sizes: Sizes) -> list[Figure]:
    figures = []
    for per_save, saves in sizes.appends:
        events = per_save * saves
        run = lambda p=per_save, s=saves: append_run(store, p, s)  # noqa: E731
        warmup = lambda p=per_save, s=saves: append_run(store, p, -(-s // 10))  # noqa: E731
        warden = median_of(run, sizes.reps, warmup=warmup)
        # The last repetition's timed events are the tail of the log (its opening events precede them).
        rows = log_rows(store, start=store.recorder.max_notification_id() - events + 1)

        def raw_run(rows: Sequence[Row] = rows, per_save: int = per_save) -> float:
            raw.reset()
            return raw.insert(rows, per_save)

        baseline = median_of(raw_run, sizes.reps)
        progress(f"{backend}: append {per_save}/save done")
        figures.append(Figure(backend, f"append, {per_save:,} ev/save", events / warden, events / baseline,
                              "ev/s", "raw insert", APPEND_TARGET if per_save > 1 else None))
    return figures


def bench_group_commit(backend: str, store: WardenStore, raw: RawBaseline, sizes: Sizes) -> list[Figure]:
    """The engine's way of saving: many positions, one event each, saved at once through the
    group-commit writer; against the raw insert of the same rows in batches of that size."""
    positions, rounds = sizes.group
    events = positions * rounds
    warden = median_of(lambda: group_commit_run(store, positions, rounds), sizes.reps,
                       warmup=lambda: group_commit_run(store, positions, 2))
    rows = log_rows(store, start=store.recorder.max_notification_id() - events + 1)

    def raw_run() -> float:
        raw.reset()
        return raw.insert(rows, positions)

    baseline = median_of(raw_run, sizes.reps)
    progress(f"{backend}: group commit done")
    return [Figure(backend, f"group commit, {positions} saves of 1 ev", events / warden,
                   events / baseline, "ev/s", "raw insert", APPEND_TARGET)]


def bench_loads(backend: str, store: WardenStore, sizes: Sizes) -> list[Figure]:
    # The last size also runs at its worst case: 49 events after the last snapshot, all replayed.
    worst = sizes.histories[-1] + SNAPSHOT_INTERVALS[Position] - 1
    lengths = (*sizes.histories, worst)
    ids = {n: build_history(store, n) for n in lengths}
    progress(f"{backend}: histories built")
    ms = {n: 1000 * median_of(lambda i=ids[n]: timed(load(store, i)), sizes.load_reps) for n in lengths}
    reference = ms[lengths[0]]
    return [
        Figure(backend, f"load, {n:,} events" + (" (worst)" if n == worst else ""), ms[n], reference,
               "ms", f"{lengths[0]}-event load", LOAD_TARGET if n == sizes.histories[-1] else None)
        for n in lengths[1:]
    ] + [Figure(backend, f"load, {lengths[0]} events", reference, reference, "ms", "itself")]


def bench_read(backend: str, store: WardenStore, raw: RawBaseline, sizes: Sizes) -> list[Figure]:
    rows = log_rows(store)
    n = len(rows)
    read = median_of(lambda: timed(lambda: drain(store.all_events())), sizes.reps)
    fetch = median_of(lambda: timed(lambda: drain(store.stored_notifications())), sizes.reps)
    raw.reset()
    raw.insert(rows, 1000)
    baseline = median_of(raw.read_all, sizes.reps)
    # Decode alone, beside plain json.loads of the same bytes: what the transcoder adds.
    notifications = list(store.stored_notifications())
    decode = median_of(lambda: timed(lambda: drain(map(store.mapper.to_domain_event, notifications))),
                       sizes.reps)
    plain = median_of(lambda: timed(lambda: drain(json.loads(r[3]) for r in rows)), sizes.reps)
    progress(f"{backend}: read done")
    return [
        Figure(backend, f"read+decode log ({n:,} ev)", n / read, n / baseline, "ev/s", "raw read",
               READ_TARGET),
        Figure(backend, "read log, no decode", n / fetch, n / baseline, "ev/s", "raw read"),
        Figure(backend, "decode only (mapper)", n / decode, n / plain, "ev/s", "json decode"),
    ]


def bench_backend(backend: str, url: str, raw: RawBaseline, sizes: Sizes) -> list[Figure]:
    store = open_store(url)
    try:
        figures = bench_appends(backend, store, raw, sizes) + bench_group_commit(backend, store, raw, sizes)
        load_figures = bench_loads(backend, store, sizes)
        return figures + bench_read(backend, store, raw, sizes) + load_figures
    finally:
        store.close()
        raw.close()


def run_sqlite(sizes: Sizes) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="warden_bench_") as tmp:
        return bench_backend("sqlite", f"sqlite:///{tmp}/warden.sqlite3",
                             SQLiteRaw(f"{tmp}/raw.sqlite3"), sizes)


@contextlib.contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"warden_bench_{uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_postgres(sizes: Sizes, admin_url: str) -> list[Figure]:
    with throwaway_database(admin_url) as url:
        return bench_backend("postgres", url, PostgresRaw(url), sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    parser.add_argument("--pg-dsn", default=DEFAULT_PG,
                        help="PostgreSQL URL whose user may create databases (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run of ~20 s")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated subset of sqlite,postgres (default: %(default)s)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    runners: dict[str, Callable[[], list[Figure]]] = {
        "sqlite": lambda: run_sqlite(sizes),
        "postgres": lambda: run_postgres(sizes, args.pg_dsn),
    }
    figures: list[Figure] = []
    for backend in args.backends.split(","):
        if backend not in runners:
            parser.error(f"unknown backend {backend!r}")
        progress(f"{backend}: starting ({'quick' if args.quick else 'full'})")
        figures += runners[backend]()
    print(f"warden store benchmark, {date.today()}, {os.cpu_count()} CPUs,"
          f" {'quick' if args.quick else 'full'} sizes; ratio = warden / baseline")
    print(render(figures))
    print(summary(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
