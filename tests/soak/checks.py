"""The promises checked after each soak scenario, against the simulator's own state, request log
and stop-coverage record, and against warden's event log and read model.

Each check returns `Violation`s naming the scenario's seed; none of them reads warden's opinion of
the venue where the venue itself can be asked.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.soak.scenario import PHANTOM
from tests.soak.world import RECONCILE_S, REQUEST_TIMEOUT_S
from warden.adapters.eventlog import export_log, import_log
from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.store import open_store
from warden.domain.ids import account_id, client_order_id_prefix, position_id
from warden.domain.values import Side
from warden.engine.context import EngineConfig, entry_exposure_bound_s
from warden.projections.positions_view import PositionsView, all_positions
from warden.projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from tests.soak.harness import Run

ACCOUNTS = {"bybit": "bybit", "binance": "binanceusdm"}   # sim account: warden venue
MARK_GRACE_MS = 1000      # how stale warden's view of the mark may be when it places a stop
TICK_S = 1.0              # the service's tick (runtime/build.py), when reconcile runs
RESTART_SLACK_S = 5.0     # per outage: a restart's reconcile and resume on top of the downtime
CATCH_UP_S = 3.0          # after a restart or an outage, warden's view of the mark is stale
ENTRY_BOUND_S = entry_exposure_bound_s(EngineConfig(fill_timeout_s=1.0, reconcile_interval_s=RECONCILE_S),
                                       REQUEST_TIMEOUT_S)
LIVE = ("new", "untriggered", "partially_filled")
Found = Iterator[tuple[str, str]]  # what a check yields: (its name, what it found)


@dataclass(frozen=True)
class Violation:
    seed: int
    check: str
    detail: str


def venue_snapshot(run: Run) -> dict[str, Any]:
    """The simulator's state, request log, coverage record and price history, read on its loop."""
    def grab() -> dict[str, Any]:
        sim = run.sim.sim
        return {"state": sim.control.state(), "requests": sim.control.requests(),
                "coverage": sim.control.coverage(), "now_ms": sim.clock.now_ms(),
                "history": {s: list(h) for s, h in sim.feed.history.items()}}
    return run.sim.call(grab)


def check_scenario(run: Run) -> tuple[list[Violation], list[dict[str, Any]], Counter[str]]:
    """Every violation of the scenario, every uncovered interval (for the worst-case figure) and
    what happened on the venue (positions opened and closed, stops placed)."""
    venue = venue_snapshot(run)
    store = open_store(run.store_url)
    events = list(store.all_events())
    seed, found = run.scenario.seed, []
    for check, detail in [*duplicate_entries(run, venue), *stop_prices(run, venue, events),
                          *tracking(run, venue, events), *exposure(run, venue),
                          *left_behind(venue), *feeds(run), *ratchets(venue, events),
                          *log_round_trip(run, store)]:
        found.append(Violation(seed, check, detail))
    gaps = [{**g, "account": life["account"], "symbol": life["symbol"]}
            for life in venue["coverage"] for g in life["gaps"]]
    activity = Counter(positions_opened=len(venue["coverage"]),
                       positions_closed=sum(1 for life in venue["coverage"] if life["closed_ms"]),
                       stops_placed=sum(1 for s in stop_requests(venue) if s["accepted"]),
                       stops_refused=sum(1 for s in stop_requests(venue) if not s["accepted"]))
    return found, gaps, activity


# -- the venue's side --------------------------------------------------------------------------
def duplicate_entries(run: Run, venue: dict[str, Any]) -> Found:
    """No signal ever made more than one entry order on the venue."""
    for sid, payload in run.signals.items():
        prefix = client_order_id_prefix(position_id(payload["exchange"], payload["account"], sid))
        entries = [o for o in venue["state"]["orders"]
                   if (o["client_id"] or "").startswith(prefix) and "entry" in o["client_id"]]
        if len(entries) > 1:
            yield "duplicate_entry", f"signal {sid}: {len(entries)} entry orders " \
                                     f"{[o['client_id'] for o in entries]}"


def stop_requests(venue: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stop warden sent (whatever the answer): account, symbol, side it sells or buys
    (None for a Bybit position stop: the position's), trigger, time, accepted."""
    accounts = {a["api_key"]: a for a in [{"api_key": "bybit-key", "id": "bybit"},
                                         {"api_key": "binance-key", "id": "binance"}]}
    stops = []
    for r in venue["requests"]:
        p, ok = r["params"], r["status"] == 200 and r["code"] in (None, 0)
        if r["method"] != "POST" or r["api_key"] not in accounts:
            continue
        if r["path"] == "/v5/position/trading-stop" and "stopLoss" in p:
            trigger, side = p["stopLoss"], None
        elif r["path"] in ("/v5/order/create", "/fapi/v1/algoOrder", "/fapi/v1/order") and (
                "triggerPrice" in p or "stopPrice" in p):
            trigger, side = p.get("triggerPrice") or p.get("stopPrice"), str(p["side"]).lower()
        else:
            continue
        stops.append({"account": accounts[r["api_key"]]["id"], "symbol": p["symbol"], "side": side,
                      "trigger": Decimal(str(trigger)), "time_ms": r["time_ms"], "accepted": ok})
    return stops


def _lifetime(venue: dict[str, Any], account: str, symbol: str, time_ms: int) -> dict[str, Any] | None:
    for life in venue["coverage"]:
        if (life["account"], life["symbol"]) == (account, symbol) and life["opened_ms"] <= time_ms \
                and (life["closed_ms"] is None or time_ms <= life["closed_ms"]):
            return life
    return None


def _marks(venue: dict[str, Any], symbol: str, time_ms: int) -> list[Decimal]:
    """The marks in force during the grace window before ``time_ms``."""
    history = venue["history"].get(symbol, [])
    before = [p for t, p in history if t <= time_ms - MARK_GRACE_MS]
    return ([before[-1]] if before else []) + [p for t, p in history
                                               if time_ms - MARK_GRACE_MS < t <= time_ms]


def stop_prices(run: Run, venue: dict[str, Any], events: list[Any]) -> Found:
    """No stop at a price <= 0; none on the wrong side of every venue mark of the second before it
    was sent (unless warden was catching up after a restart or an outage: its view of the price is
    stale then by construction); none on the wrong side of what warden itself knew."""
    back = [b for _, b in run.outages() if b]
    for s in stop_requests(venue):
        where = f"{s['account']}/{s['symbol']} at {s['time_ms']}"
        if s["trigger"] <= 0:
            yield "stop_price", f"{where}: stop sent at {s['trigger']}"
            continue
        sent = _mono(run, venue, s["time_ms"])
        if any(0 <= sent - b <= CATCH_UP_S for b in back):
            continue
        life = _lifetime(venue, s["account"], s["symbol"], s["time_ms"])
        long = (s["side"] == "sell") if s["side"] else (life is not None and life["side"] == "buy")
        marks = _marks(venue, s["symbol"], s["time_ms"])
        if marks and (s["side"] or life) and all((s["trigger"] >= m) if long else (s["trigger"] <= m)
                                                 for m in marks):
            yield "stop_price", f"{where}: {'long' if long else 'short'} stop at {s['trigger']} " \
                                f"on the wrong side of the mark {marks[-1]}"
    yield from _stops_against_the_log(events)


def _stops_against_the_log(events: list[Any]) -> Found:
    """In the log's order: no stop requested on the wrong side of the last mark the position had
    observed, nor, before trailing, of its entry."""
    sides = _sides(events)
    entry: dict[Any, Decimal] = {}
    mark: dict[Any, Decimal] = {}
    trailing: set[Any] = set()
    for e in events:
        name, pid = type(e).__name__, e.originator_id
        if name == "EntryFilled":
            entry.setdefault(pid, e.price)
        elif name == "MarkPriceObserved":
            mark[pid] = e.price
        elif name == "TrailingActivated":
            trailing.add(pid)
        elif name == "StopLossRequested":
            long = sides.get(pid)
            for what, ref in (("last observed mark", mark.get(pid)),
                              ("entry", None if pid in trailing else entry.get(pid))):
                if ref is not None and ((e.price >= ref) if long else (e.price <= ref)):
                    yield "stop_price", f"position {pid}: stop {e.price} requested on the wrong " \
                                        f"side of its {what} {ref}"


def tracking(run: Run, venue: dict[str, Any], events: list[Any]) -> Found:
    """Every venue position is tracked by an open warden position or flagged as a phantom, and
    warden tracks no position the venue does not hold."""
    db = open_readmodel(run.store_url)
    try:
        rows = [r for r in all_positions(db) if r.status.value != "closed"]
    finally:
        db.close()
    flagged = {(e.originator_id, e.report.symbol) for e in events
               if type(e).__name__ == "PhantomDetected"}
    mismatched = {e.position_id for e in events if type(e).__name__ == "PositionMismatch"}  # flagged
    held = set()
    for p in venue["state"]["positions"]:
        key = (ACCOUNTS[p["account"]], p["account"], p["symbol"])
        held.add(key)
        side, qty = Side.LONG if p["side"] == "buy" else Side.SHORT, Decimal(p["qty"]).copy_abs()
        mine = [r for r in rows if (r.venue, r.account, r.symbol) == key]
        where = f"{p['account']}/{p['symbol']} {p['side']} {qty} on the venue"
        if not mine and (account_id(*key[:2]), p["symbol"]) not in flagged:
            yield "untracked", f"{where}, neither tracked nor flagged one reconcile interval after the settle"
        elif mine and [(r.side, r.filled_qty) for r in mine] != [(side, qty)] \
                and not any(r.id in mismatched for r in mine):
            yield "untracked", f"{where}, warden tracks {[(r.side.value, str(r.filled_qty)) for r in mine]}"
    for r in rows:
        if (r.venue, r.account, r.symbol) not in held:
            yield "ghost", f"warden tracks {r.account}/{r.symbol} {r.status.value} ({r.id}): " \
                           "the venue is flat"
    yield from _phantoms_seen(run, venue, events)


def _phantoms_seen(run: Run, venue: dict[str, Any], events: list[Any]) -> Found:
    """A position opened by hand is flagged within a reconcile interval (and a service tick, and
    the time warden or its database was down meanwhile)."""
    seen: dict[tuple[Any, str], list[float]] = defaultdict(list)
    for e in events:
        if type(e).__name__ == "PhantomDetected":
            seen[e.originator_id, e.report.symbol].append(e.timestamp.timestamp())
    for life in venue["coverage"]:
        if life["symbol"] != PHANTOM[0]:
            continue
        opened = life["opened_ms"] / 1000
        start = _mono(run, venue, life["opened_ms"])
        down = sum(min(b or start + 60, start + 60) - max(a, start) + RESTART_SLACK_S
                   for a, b in run.outages() if b == 0.0 or b > start)
        allowed = RECONCILE_S + TICK_S + down
        times = [t - opened for t in seen[account_id(ACCOUNTS[life["account"]], life["account"]),
                                          life["symbol"]] if t >= opened - 0.1]
        if not times or min(times) > allowed:
            yield "untracked", f"{life['account']}/{life['symbol']} opened by hand: flagged after " \
                               f"{min(times) if times else None} s, allowed {allowed:.1f} s"


def exposure(run: Run, venue: dict[str, Any]) -> Found:
    """No move ever leaves a position without a stop; an entry is protected within the bound of
    issue 9 item 1, plus the time warden or its database was down (and a restart's slack)."""
    outages = run.outages()
    for life in venue["coverage"]:
        for gap in life["gaps"]:
            where = f"{life['account']}/{life['symbol']} {gap['kind']} gap of {gap['duration_ms']} ms"
            if gap["end_ms"] is None:
                yield "naked", f"{where}, still open at the end"
            elif gap["kind"] == "move":
                yield "naked", f"{where} (a move leaves no gap at all)"
            else:
                start, end = _mono(run, venue, gap["start_ms"]), _mono(run, venue, gap["end_ms"])
                down = sum(min(b or end, end) - max(a, start) + RESTART_SLACK_S
                           for a, b in outages if a < end and (b == 0.0 or b > start))
                if gap["duration_ms"] > (ENTRY_BOUND_S + down) * 1000:
                    yield "naked", f"{where} > bound {ENTRY_BOUND_S:.1f} s + {down:.1f} s down"


def _mono(run: Run, venue: dict[str, Any], time_ms: int) -> float:
    """A venue time as the harness's monotonic clock (both run on this machine's clock)."""
    return run.snapshot_mono - (venue["now_ms"] - time_ms) / 1000


def left_behind(venue: dict[str, Any]) -> Found:
    """No stop or order left on the venue where the position is closed; one stop per position,
    for all of it (a reduce-only stop for part of the position leaves the rest naked, though the
    coverage record counts the position as covered)."""
    sizes = {(p["account"], p["symbol"]): Decimal(p["qty"]).copy_abs() for p in venue["state"]["positions"]}
    open_ = set(sizes)
    live = defaultdict(list)
    for o in venue["state"]["orders"]:
        if o["status"] in LIVE:
            live[o["account"], o["symbol"]].append(o)
    for (account, symbol), orders in sorted(live.items()):
        names = [f"{o['kind']} {o['client_id'] or o['id']} @ {o['trigger_price'] or o['price']}"
                 for o in orders]
        if (account, symbol) not in open_:
            yield "left_behind", f"{account}/{symbol} is flat but the venue holds {names}"
        elif len(orders) > 1:
            yield "left_behind", f"{account}/{symbol}: {len(orders)} orders on one position {names}"
        elif not (orders[0]["kind"] == "position_sl" or orders[0]["close_position"]) \
                and Decimal(orders[0]["qty"]) < sizes[account, symbol]:
            yield "underprotected", f"{account}/{symbol}: the stop covers {orders[0]['qty']} of " \
                                    f"{sizes[account, symbol]}"


def feeds(run: Run) -> Found:
    """/healthz turned ok once the faults were cleared; at the end every feed is connected and the
    store answers; the service stops cleanly on SIGTERM. (A reconcile older than three intervals
    also makes /healthz 503: that flaps right after a lost answer and is not held against it.)"""
    if run.exit_code != 0:
        yield "exit", f"warden run exited {run.exit_code} on SIGTERM"
    health = run.final_health
    if not run.healthy_at:
        yield "health", f"/healthz never ok in {run.settle_timeout_s:.0f} s after the faults were cleared"
    if not health or not health.get("store") or health.get("feeds_down") \
            or any(f.get("state") != "connected" for f in health.get("feeds", {}).values()):
        yield "feeds", f"a feed or the store is down at the end: {health}"


def ratchets(venue: dict[str, Any], events: list[Any]) -> Found:
    """Stops only ratchet: on the venue (accepted stops of one position, in time order) and in the
    log (the stop prices each position recorded)."""
    by_life = defaultdict(list)
    for s in stop_requests(venue):
        life = _lifetime(venue, s["account"], s["symbol"], s["time_ms"])
        if s["accepted"] and life is not None:
            by_life[life["account"], life["symbol"], life["opened_ms"], life["side"]].append(s["trigger"])
    for (account, symbol, opened, side), prices in by_life.items():
        if _loosened(prices, side == "buy"):
            yield "ratchet", f"{account}/{symbol} (opened {opened}): venue stops {prices}"
    logged = defaultdict(list)
    for e in events:
        name = type(e).__name__
        if name == "StopLossPlaced":
            logged[e.originator_id].append(e.price)
        elif name == "StopLossMoved":
            logged[e.originator_id].append(e.new_price)
    sides = _sides(events)
    for pid, prices in logged.items():
        if _loosened(prices, bool(sides.get(pid))):
            yield "ratchet", f"position {pid}: logged stops {prices}"


def _sides(events: list[Any]) -> dict[Any, bool]:
    """Each position's side, True for a long."""
    return {e.originator_id: e.side is Side.LONG for e in events
            if type(e).__name__ in ("SignalAccepted", "PositionAdopted")}


def _loosened(prices: list[Decimal], long: bool) -> bool:
    return any((b < a) if long else (b > a) for a, b in itertools.pairwise(prices))


def log_round_trip(run: Run, store: Any) -> Found:
    """The log exports and imports into a fresh store; the positions read model rebuilt from the
    imported log equals the one the service kept through kills and outages."""
    text = StringIO()
    exported = export_log(store, text)
    with tempfile.TemporaryDirectory(prefix="soak-import-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'imported.sqlite3'}"
        copy = open_store(url)
        try:
            imported = import_log(copy, text.getvalue().splitlines(keepends=True))
        except ValueError as e:
            yield "log", f"the exported log ({exported} events) does not import: {e}"
            return
        if imported.events != exported:
            yield "log", f"exported {exported} events, imported {imported.events}"
        rebuilt_db, kept_db = open_readmodel(url), open_readmodel(run.store_url)
        try:
            runner = ProjectionRunner(copy, rebuilt_db, PositionsView(copy))
            runner.setup()
            runner.catch_up()
            ProjectionRunner(store, kept_db, PositionsView(store)).catch_up()
            rebuilt, kept = all_positions(rebuilt_db), all_positions(kept_db)
        finally:
            rebuilt_db.close()
            kept_db.close()
        by_id = {r.id: r for r in kept}
        if set(by_id) != {r.id for r in rebuilt}:
            yield "log", f"read model has {sorted(map(str, by_id))}, the replayed log " \
                         f"{sorted(str(r.id) for r in rebuilt)}"
        for row in rebuilt:
            if row.id in by_id and row != by_id[row.id]:
                yield "log", f"position {row.id}: read model {by_id[row.id]} != replayed {row}"
            aggregate = copy.repository.get(row.id)
            if (aggregate.status, aggregate.stop_price) != (row.status, row.stop_price):
                yield "log", f"position {row.id}: replayed aggregate {aggregate.status} " \
                             f"{aggregate.stop_price} != read model {row.status} {row.stop_price}"
