"""P1 ingest and log growth: ``warden run`` guarding positions while every symbol's price moves.

The run: open one position per (account, symbol) through the intake, wait until all are guarded,
warm up with prices moving, then measure over ``duration`` seconds at the venue's latency, stop
the prices and time how long the log keeps receiving prices. Afterwards every position is closed
on the venue "from outside" and warden records the closes: those finished histories are what the
long log of P2/P4 is copied from.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench import probes
from bench.figures import Line, na, ratio
from bench.logfill import Row, histories_to_copy
from bench.raw import PostgresRaw
from bench.service import Scrape, WardenProcess
from bench.world import BenchAccount, PriceDriver
from warden.adapters.store import WardenStore, open_store
from warden.sim.server import SimulatorThread

DECISION = "warden_update_to_decision_seconds"
MARKS = "warden_marks"  # {outcome="acted"|"superseded"}: marks offered to the positions' lanes
GUARDED = ("PROTECTED", "TRAILING", "AGED")
RAW_BATCH = 100  # rows per statement of the raw insert: a group commit's batch at this load


@dataclass(frozen=True)
class Load:
    accounts: list[BenchAccount]
    symbols: list[str]
    per_symbol_hz: float

    @property
    def positions(self) -> int:
        return len(self.accounts) * len(self.symbols)


def open_positions(warden: WardenProcess, load: Load, tag: str, *, longs_only: bool = False) -> None:
    """One signal per (account, symbol), longs and shorts alternating (or longs), eight at a time."""
    bodies = [{"signal_id": f"{tag}-{a.name}-{s}", "exchange": a.venue, "account": a.name, "symbol": s,
               "side": "long" if longs_only or (i + j) % 2 == 0 else "short", "quantity": "10"}
              for i, a in enumerate(load.accounts) for j, s in enumerate(load.symbols)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(warden.signal, bodies))
    refused = [a for a in answers if a.get("status") != "accepted"]
    if refused:
        raise RuntimeError(f"{len(refused)} signals not accepted, e.g. {refused[0]}")


def guarded(warden: WardenProcess) -> int:
    metrics = warden.metrics()
    return int(sum(metrics.total("warden_positions", status=s) for s in GUARDED))


def open_count(warden: WardenProcess) -> int:
    return int(warden.metrics().total("warden_positions"))


def run(thread: SimulatorThread, url: str, load: Load, duration: float, warmup: float,
        latency_ms: float, python_args: list[str] | None = None) -> tuple[list[Line], list[list[Row]]]:
    sim_url = thread.sim.http_url  # type: ignore[union-attr]
    warden = WardenProcess(url, sim_url, load.accounts, python_args)
    warden.start()
    try:
        open_positions(warden, load, "p1")
        probes.wait_until(lambda: guarded(warden) >= load.positions, 120 + load.positions / 5,
                          f"{load.positions} positions guarded")
        lines, store = _measure(thread, url, warden, load, duration, warmup, latency_ms)
        for a in load.accounts:
            for s in load.symbols:
                thread.control.close_position(a.name, s)
        probes.wait_until(lambda: open_count(warden) == 0, 120, "every position closed")
    finally:
        warden.close()
    return lines, histories_to_copy(url, store)


def _measure(thread: SimulatorThread, url: str, warden: WardenProcess, load: Load, duration: float,
             warmup: float, latency_ms: float) -> tuple[list[Line], WardenStore]:
    store = open_store(url)
    driver = PriceDriver(thread, load.symbols, load.per_symbol_hz)
    driver.start()
    time.sleep(warmup)
    m0, id0, (log0, db0), pushed0, t0 = (warden.metrics(), probes.head(store), probes.log_bytes(url, store),
                                          (driver.steps, driver.frames), time.time())
    lags, rss = [], []
    while time.time() - t0 < duration:
        time.sleep(1.0)
        lag = probes.lag_s(store)
        if lag is not None:
            lags.append(lag)
        rss.append(warden.rss_mb())
    m1, id1, (log1, db1), pushed1, t1 = (warden.metrics(), probes.head(store), probes.log_bytes(url, store),
                                          (driver.steps, driver.frames), time.time())
    stopped = driver.stop()
    if MARKS in m1.samples:  # when the positions' lanes took the last mark, else the last price logged
        how = "last mark taken"
        last_price = probes.settled_after(lambda: warden.metrics().total(MARKS), stopped)
    else:
        how = "last price logged"
        last_price = probes.quiet_after(store, stopped)
    elapsed = t1 - t0
    # one price change is one update for each position on the symbol: one per account
    updates = (pushed1[0] - pushed0[0]) * len(load.accounts)
    lines = _latency_lines(m0, m1, updates, pushed1[1] - pushed0[1], elapsed)
    lines += _lag_lines(lags, stopped, last_price, latency_ms, how)
    lines += _write_lines(url, store, id0, id1, elapsed, log1 - log0, db1 - db0)
    lines.append(Line("P1", f"RSS, {load.positions} positions", f"{max(rss):.0f} MB"))
    return lines, store


def _latency_lines(m0: Scrape, m1: Scrape, updates: int, frames: int, elapsed: float) -> list[Line]:
    window = m1.since(m0, DECISION)
    from_arrival = "arriv" in m1.help.get(DECISION, "").lower()
    lines = []
    for q in (0.5, 0.99):
        found = window.quantile(DECISION, q)
        name = f"update->decision p{round(q * 100)}"
        if found is None:
            lines.append(Line("P1", name, "none decided"))
        elif not from_arrival:
            lines.append(Line("P1", name, na("latency stamped at frame arrival (hotpath)"),
                              f"{found[0] * 1000:.1f} ms from engine pickup, n={found[1]}"))
        else:
            tail = q == 0.99  # the target is on the p99
            lines.append(Line("P1", name, f"{found[0] * 1000:.1f} ms", f"n={found[1]}",
                              target="<= 50 ms" if tail else "", met=found[0] <= 0.05 if tail else None))
    pushed = f"{updates:,} updates ({updates / elapsed:,.0f}/s), {frames:,} frames"
    if MARKS in m1.samples:  # the lanes count every mark offered to a position
        acted, superseded = (m1.total(MARKS, outcome=o) - m0.total(MARKS, outcome=o)
                             for o in ("acted", "superseded"))
        lines.append(Line("P1", "price updates acted on or superseded",
                          f"{(acted + superseded) / updates:.0%} ({superseded / updates:.0%} superseded)",
                          pushed, ratio(acted + superseded, updates), ">= 100 %",
                          acted + superseded >= updates))
        return lines
    marks = m1.total("warden_events_appended", event="MarkPriceObserved") - \
        m0.total("warden_events_appended", event="MarkPriceObserved")
    lines.append(Line("P1", "price updates acted on (recorded per position)",
                      f"{marks / updates:.0%}" if updates else "0", pushed, ratio(marks, updates)))
    lines.append(Line("P1", "price updates acted on or superseded",
                      na("superseded marks counted in /metrics (hotpath)"), pushed))
    return lines


def _lag_lines(lags: list[float], stopped: float, last_price: float | None,
               latency_ms: float, how: str) -> list[Line]:
    lines = []
    venue = f"venue latency {latency_ms:.0f} ms"
    if last_price is None:
        lines.append(Line("P1", "behind the market when prices stop", f"nothing after the stop ({how})",
                          venue, target="< 100 ms", met=False))
    else:
        behind = (last_price - stopped) * 1000
        lines.append(Line("P1", "behind the market when prices stop", f"{behind:,.0f} ms ({how})", venue,
                          ratio(behind, latency_ms), "< 100 ms", behind < 100))
    name = "backlog growth (newest price's age)"
    if len(lags) < 2:
        lines.append(Line("P1", name, f"n/a ({len(lags)} sample: the window is too short)", venue))
        return lines
    third = max(1, len(lags) // 3)
    first, last = statistics.mean(lags[:third]), statistics.mean(lags[-third:])
    lines.append(Line("P1", name, f"{first * 1000:,.0f} -> {last * 1000:,.0f} ms", venue,
                      target="no growth (< +50 ms)", met=(last - first) * 1000 < 50))
    return lines


def _write_lines(url: str, store: WardenStore, id0: int, id1: int, elapsed: float, log_growth: int,
                 db_growth: int) -> list[Line]:
    rows = [(n.originator_id, n.originator_version, n.topic, n.state)
            for n in store.recorder.select_notifications(start=id0 + 1, limit=max(1, id1 - id0))]
    rate = len(rows) / elapsed
    raw = PostgresRaw(url)
    try:
        raw_s = raw.insert(rows, RAW_BATCH) if rows else float("nan")
        raw_bytes = probes.relation_bytes(url, "raw_events")
        raw.conn.execute("DROP TABLE raw_events")
    finally:
        raw.close()
    raw_rate = len(rows) / raw_s if rows else 0.0
    per_hour = 3600 / elapsed
    return [
        Line("P1", "events durably recorded", f"{rate:,.0f} ev/s",
             f"{raw_rate:,.0f} ev/s (raw insert, {RAW_BATCH}/stmt)", ratio(rate, raw_rate), ">= 0.5",
             raw_rate > 0 and rate / raw_rate >= 0.5),
        Line("Log", "growth of the log tables", f"{log_growth * per_hour / 1e6:,.1f} MB/h",
             f"{raw_bytes * per_hour / 1e6:,.1f} MB/h (same rows, bare table)",
             ratio(log_growth, raw_bytes)),
        Line("Log", "growth of the database", f"{db_growth * per_hour / 1e6:,.1f} MB/h"),
    ]
