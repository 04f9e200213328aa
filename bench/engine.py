"""Engine benchmark: the real service (``warden run``) against the simulator over loopback, with the
venue's latency on, each figure beside a baseline measured in the same run.

    .venv/bin/python -m bench.engine [--quick | --tiny] [--duration S] [--pg-dsn URL]

- P1 ingest: positions over (account, symbol) pairs on both venues, every symbol's price moving;
  update->decision latency, the share of price updates acted on, how far behind the market the
  log is when prices stop, events durably recorded against the raw insert of the same rows,
  whether the backlog grows; and the log's growth per hour at that load.
- P5 memory: RSS with many open positions trailing.
- P2 replay: every read model rebuilt from a long log, against the raw read of it.
- P4 cold start: process start to ready with those positions and that log.

Every store is a throwaway PostgreSQL database (created through ``--pg-dsn`` or found/started as
the tests do, dropped at the end). Targets are reported, never asserted: the exit status is 0
whenever the benchmark ran. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date

from bench import coldstart, ingest, world
from bench.figures import Line, render, summary
from bench.profiles import Profiles
from tests.pg import PgServer, find_or_start, stop


@dataclass(frozen=True)
class Sizes:
    p1_accounts_per_venue: int  # P1 positions: 2 venues x accounts x symbols
    p1_symbols: int
    p1_hz: float  # price changes per symbol per second
    duration: float  # P1's measured window, seconds
    warmup: float
    big_accounts_per_venue: int  # P5/P4 positions: 2 venues x accounts x symbols
    big_symbols: int
    big_hz: float
    trail_s: float  # P5: seconds of moving prices before RSS is read
    log_events: int  # P2/P4: the log's length


FULL = Sizes(2, 25, 10.0, 60.0, 5.0, 10, 50, 1.0, 20.0, 1_000_000)
QUICK = replace(FULL, duration=10.0, warmup=3.0, big_accounts_per_venue=5, big_symbols=20, big_hz=2.5,
                trail_s=8.0, log_events=100_000)
TINY = Sizes(1, 2, 5.0, 3.0, 1.0, 1, 3, 2.0, 2.0, 3_000)  # the test's: seconds, every figure


def progress(message: str) -> None:
    print(f"  .. {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def postgres(dsn: str | None) -> Iterator[PgServer]:
    if dsn:
        from urllib.parse import urlsplit
        parts = urlsplit(dsn)
        yield PgServer(parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres",
                       parts.password or "")
        return
    server = find_or_start()
    try:
        yield server
    finally:
        stop(server)  # only a cluster it started itself


def run(sizes: Sizes, server: PgServer, latency_ms: float, jitter_ms: float,
        profiles: Profiles | None = None) -> list[Line]:
    database = lambda: server.database("warden_bench")  # noqa: E731
    p1 = ingest.Load(world.accounts(sizes.p1_accounts_per_venue), world.symbols(sizes.p1_symbols),
                     sizes.p1_hz)
    big = ingest.Load(world.accounts(sizes.big_accounts_per_venue), world.symbols(sizes.big_symbols),
                      sizes.big_hz)
    thread = world.start_simulator(max(sizes.p1_symbols, sizes.big_symbols),
                                   max(sizes.p1_accounts_per_venue, sizes.big_accounts_per_venue),
                                   latency_ms=latency_ms, jitter_ms=jitter_ms)
    try:
        with database() as url:
            progress(f"P1: {p1.positions} positions, {sizes.duration:.0f} s at {latency_ms:.0f} ms latency")
            lines, templates = ingest.run(thread, url, p1, sizes.duration, sizes.warmup, latency_ms,
                                          profiles.service_prefix() if profiles else None)
        with database() as url:
            lines += coldstart.run(thread, url, database, big, templates, sizes.log_events, sizes.trail_s,
                                   (latency_ms, jitter_ms), progress, profiles)
    finally:
        thread.stop()
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a 10 s ingest and smaller P2/P4/P5 (~3 min)")
    mode.add_argument("--tiny", action="store_true", help="the smallest run, every figure (the test's)")
    parser.add_argument("--duration", type=float, help="seconds of P1's measured window (default 60)")
    parser.add_argument("--latency-ms", type=float, default=80.0, help="venue latency (default 80)")
    parser.add_argument("--jitter-ms", type=float, default=20.0, help="its jitter (default 20)")
    parser.add_argument("--profile", action="store_true",
                        help="run P1's warden under cProfile and profile P2's rebuild; print the top entries")
    parser.add_argument("--pg-dsn", default=os.environ.get("WARDEN_BENCH_PG"),
                        help="a PostgreSQL URL whose user may create databases (default: found or "
                             "started as the tests do)")
    args = parser.parse_args(argv)
    name = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = {"tiny": TINY, "quick": QUICK, "full": FULL}[name]
    if args.duration:
        sizes = replace(sizes, duration=args.duration)
    started = time.monotonic()
    profiles = Profiles() if args.profile else None
    with postgres(args.pg_dsn) as server:
        lines = run(sizes, server, args.latency_ms, args.jitter_ms, profiles)
    print(f"warden engine benchmark, {date.today()}, {os.cpu_count()} CPUs, {name} sizes, venue latency "
          f"{args.latency_ms:.0f} +/- {args.jitter_ms:.0f} ms, {time.monotonic() - started:.0f} s")
    print(render(lines))
    print(summary(lines))
    if profiles is not None:
        print(profiles.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
