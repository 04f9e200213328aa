"""P5 memory, P2 replay and P4 cold start, on one store holding many open positions.

1. ``warden run`` opens one position per (account, symbol) through the intake, with the venue's
   latency off while it opens them (setup, not measured) and on again afterwards. The positions
   are longs and every price rises steadily, so each one activates its trailing stop and trails.
   P5 is its RSS then, beside the same process's RSS before any position.
2. warden stops; the log is grown to ``log_events`` by copying closed histories (`bench.logfill`).
3. P2 rebuilds every read model from that log into a fresh database, beside the raw read of it.
4. The store's own read models are brought current (as the running service keeps them), then P4
   starts ``warden run`` on it and times process start to ready: every open position loaded,
   every account reconciled and every position's stop verified on the venue. Its baseline is the
   target's allowance: 3 s plus the venue round trips a start cannot avoid (markets, position
   mode, positions and open orders: four, every account in parallel), at the round trip measured
   in the same run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

from bench import logfill, probes
from bench.figures import Line, ratio
from bench.ingest import GUARDED, Load, guarded, open_count, open_positions
from bench.logfill import Row
from bench.profiles import Profiles
from bench.service import WardenProcess
from bench.world import PriceDriver
from warden.adapters.store import WardenStore, open_store
from warden.sim.server import SimulatorThread

TRAIL_DRIFT = Decimal("0.0002")  # P5: every change 2 ticks up; every (long) position trails
UNAVOIDABLE_ROUND_TRIPS = 4  # markets, position mode, positions, open orders (accounts in parallel)
START_ALLOWANCE_S = 3.0


def run(thread: SimulatorThread, url: str, database: Callable[[], contextlib.AbstractContextManager[str]],
        load: Load, templates: list[list[Row]], log_events: int, trail_s: float, latency: tuple[float, float],
        progress: Callable[[str], None], profiles: Profiles | None = None) -> list[Line]:
    lines = _memory(thread, url, load, trail_s, latency, progress)
    store = open_store(url)
    existing = logfill.count(url, store)
    progress(f"P2: growing the log from {existing:,} to {log_events:,} events")
    logfill.fill(store, templates, log_events - existing)
    logfill.vacuum(url, store)
    with database() as readmodel_url:
        lines += _replay(store, url, readmodel_url, profiles)
    progress("P4: the store's read models brought current (untimed)")
    logfill.catch_up(store, url)
    lines += _cold_start(thread, url, load, logfill.count(url, store))
    return lines


@contextlib.contextmanager
def _service(thread: SimulatorThread, url: str, load: Load) -> Iterator[WardenProcess]:
    warden = WardenProcess(url, thread.sim.http_url, load.accounts)  # type: ignore[union-attr]
    try:
        yield warden
    finally:
        warden.close()


def _memory(thread: SimulatorThread, url: str, load: Load, trail_s: float, latency: tuple[float, float],
            progress: Callable[[str], None]) -> list[Line]:
    thread.control.set_latency(0, 0)
    with _service(thread, url, load) as warden:
        warden.start()
        idle = warden.rss_mb()
        progress(f"P5: opening {load.positions:,} positions (venue latency off while opening)")
        open_positions(warden, load, "p5", longs_only=True)
        probes.wait_until(lambda: guarded(warden) >= load.positions, 120 + load.positions / 2,
                          f"{load.positions} positions guarded")
        thread.control.set_latency(*latency)
        driver = PriceDriver(thread, load.symbols, load.per_symbol_hz, drift=TRAIL_DRIFT)
        driver.start()
        progress(f"P5: prices rising for {trail_s:.0f} s")
        peak = 0.0
        deadline = time.monotonic() + trail_s
        while time.monotonic() < deadline:
            time.sleep(1.0)
            peak = max(peak, warden.rss_mb())
        driver.stop()
        metrics = warden.metrics()
        trailing = int(metrics.total("warden_positions", status="TRAILING"))
        still = int(sum(metrics.total("warden_positions", status=s) for s in GUARDED))
    return [Line("P5", f"RSS, {still:,} open positions ({trailing:,} trailing)", f"{peak:.0f} MB",
                 f"{idle:.0f} MB (same process, no position)", ratio(peak, idle), "<= 200 MB", peak <= 200)]


def _replay(store: WardenStore, url: str, readmodel_url: str, profiles: Profiles | None) -> list[Line]:
    raw_s, rows = logfill.raw_read(url, store)
    profile = profiles.replay() if profiles else None
    seconds, events = logfill.rebuild(store, readmodel_url, profile)
    rate, raw_rate = events / seconds, rows / raw_s
    return [
        Line("P2", f"rebuild every read model ({events:,} ev)", f"{rate:,.0f} ev/s",
             f"{raw_rate:,.0f} ev/s (raw read)", ratio(rate, raw_rate), ">= 100k ev/s, >= 0.3",
             rate >= 100_000 and rate / raw_rate >= 0.3),
    ]


def _cold_start(thread: SimulatorThread, url: str, load: Load, events: int) -> list[Line]:
    sim = thread.sim
    assert sim is not None
    rtt_ms = probes.round_trip_ms(sim.http_url)
    since_ms = sim.clock.now_ms()
    with _service(thread, url, load) as warden:
        seconds = warden.start()
        loaded = open_count(warden)
        requests = thread.call(lambda: sum(1 for r in sim.requests if r.time_ms >= since_ms))
    allowance = START_ALLOWANCE_S + UNAVOIDABLE_ROUND_TRIPS * rtt_ms / 1000
    return [
        Line("P4", f"cold start, {loaded:,} open positions, {events:,} events", f"{seconds:,.2f} s",
             f"{allowance:.2f} s (3 s + {UNAVOIDABLE_ROUND_TRIPS} x {rtt_ms:.0f} ms round trip)",
             ratio(seconds, allowance), "<= baseline", seconds <= allowance),
        Line("P4", "venue requests during the start", f"{requests:,}",
             f"{requests * rtt_ms / 1000:,.1f} s if made one after another"),
    ]
