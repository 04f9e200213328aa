"""No position waits for another: per-position lanes against the simulator with latency on.

Two trailing longs on one Bybit account (BTCUSDT and ETHUSDT, each with the position's own stop,
so every move is one trading-stop request). The venue withholds the answer to BTCUSDT's move (a
`hang` fault); the checks are about order, not wall-clock time: ETHUSDT's move is confirmed while
BTCUSDT's request is still held, and the marks BTCUSDT gets meanwhile are superseded by the latest,
whose best price its next move follows.
"""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

from eventsourcing.persistence import OperationalError

from tests.integration.engine.conftest import signal
from warden.domain.lifecycle import Intent, Status
from warden.domain.reports import PositionReport
from warden.domain.values import ReportSource, Side
from warden.engine.ports import StopMode

MOVE_PATH = "/v5/position/trading-stop"


async def until(condition, what: str, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"never: {what}") from None


async def two_trailing_positions(sim, make_engine):
    sim.control.set_price("BTCUSDT", "60000")
    sim.control.set_price("ETHUSDT", "3000")
    sim.control.set_latency(20, 10)
    engine = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION, request_timeout_s=5.0)
    btc = await engine.submit(signal("lane-btc", symbol="BTCUSDT"))
    eth = await engine.submit(signal("lane-eth", symbol="ETHUSDT", quantity="0.10"))
    await engine.idle()
    a, b = engine.positions[btc.position_id], engine.positions[eth.position_id]
    for symbol, price in (("BTCUSDT", "60700"), ("ETHUSDT", "3035")):  # +1.17 %: both trail
        sim.control.set_price(symbol, price)
        await engine.on_mark("bybit", symbol, Decimal(price), at=engine.ctx.now())
    await engine.idle()
    assert a.status is b.status is Status.TRAILING
    return engine, a, b


async def test_a_held_stop_move_does_not_delay_another_positions_decision(sim, make_engine, store):
    engine, a, b = await two_trailing_positions(sim, make_engine)
    b_moves = b.version
    sim.control.inject("hang", venue="bybit", path=MOVE_PATH, seconds=30, times=1)

    sim.control.set_price("BTCUSDT", "61500")
    await engine.on_mark("bybit", "BTCUSDT", Decimal("61500"), at=engine.ctx.now())
    await until(lambda: not sim.control.faults(), "BTCUSDT's move reached the venue and is held")
    sim.control.set_price("ETHUSDT", "3080")
    await engine.on_mark("bybit", "ETHUSDT", Decimal("3080"), at=engine.ctx.now())
    # a move recorded after b_moves, read from the store (saves are committed after they are made)
    await until(lambda: type(last := store.history(b.id)[-1]).__name__ == "StopLossMoved"
                and last.originator_version > b_moves, "ETHUSDT's stop moved")

    # ETHUSDT's stop moved on the venue while BTCUSDT's request is still held there
    assert a.pending_intent is Intent.STOP and engine.trailing.lanes.busy(a.id)
    assert b.stop_price == engine.ctx.config.trailing.target(b.side, Decimal("3080"), b.instrument)
    assert b.pending_intent is None and not engine.trailing.lanes.busy(b.id)


async def test_while_a_position_is_busy_the_latest_mark_wins_and_its_best_price_counts(
        sim, make_engine, store):
    engine, a, _ = await two_trailing_positions(sim, make_engine)
    sim.control.inject("hang", venue="bybit", path=MOVE_PATH, seconds=1.0, times=1)
    sim.control.set_price("BTCUSDT", "61000")
    await engine.on_mark("bybit", "BTCUSDT", Decimal("61000"), at=engine.ctx.now())
    await until(lambda: not sim.control.faults(), "BTCUSDT's move is held")
    lanes = engine.trailing.lanes
    acted, superseded = lanes.acted, lanes.superseded

    for price in ("61400", "61900", "61600"):  # while the move is held: 61,900 is the best
        sim.control.set_price("BTCUSDT", price)
        await engine.on_mark("bybit", "BTCUSDT", Decimal(price), at=engine.ctx.now())
    assert lanes.busy(a.id) and lanes.superseded - superseded == 2  # only 61,600 still waits
    await engine.idle()

    assert lanes.acted - acted == 1  # one decision for the three marks
    requests = [e for e in store.history(a.id) if type(e).__name__ == "StopLossRequested"]
    assert requests[-1].reference_price == Decimal("61900")  # the superseded best still counts
    assert a.stop_price == engine.ctx.config.trailing.target(a.side, Decimal("61900"), a.instrument)
    assert a.best_price == Decimal("61900")


async def test_prices_are_on_the_symbols_tape_not_on_each_position(sim, make_engine, store):
    _, a, b = await two_trailing_positions(sim, make_engine)
    names = {type(e).__name__ for p in (a, b) for e in store.history(p.id)}
    assert "MarkPriceObserved" not in names
    tape = [e for e in store.all_events() if type(e).__name__ == "PriceRecorded"]
    assert {e.price for e in tape} >= {Decimal("60700"), Decimal("3035")}
    assert all(not hasattr(e, "raw") for e in tape)


async def test_the_update_to_decision_time_counts_from_the_frames_arrival(sim, make_engine, store):
    engine, _, _ = await two_trailing_positions(sim, make_engine)
    sim.control.set_price("BTCUSDT", "61500")
    arrived = engine.ctx.clock.monotonic() - 0.25  # the frame came in a quarter second ago
    before = sorted(engine.trailing.decision_latencies())
    await engine.on_mark("bybit", "BTCUSDT", Decimal("61500"), at=engine.ctx.now(), arrived=arrived)
    await engine.idle()
    after = sorted(engine.trailing.decision_latencies())
    assert len(after) == len(before) + 1 and max(before) < 0.25 <= after[-1]


class Outage:
    """The store stops committing (each commit fails as an unreachable server's would, and the
    writer retries it, in order, until it goes through) from ``start`` until ``end``."""

    def __init__(self, store) -> None:
        self.down, commit = threading.Event(), store.recorder.commit

        def failing(*args, **kwargs):
            if self.down.is_set():
                raise OperationalError("connection refused (a test's outage)")
            return commit(*args, **kwargs)
        store.recorder.commit = failing

    def start(self) -> None:
        self.down.set()

    def end(self) -> None:
        self.down.clear()


def report(engine, mark: str) -> PositionReport:
    return PositionReport("bybit", "bybit", "BTCUSDT", Side.LONG, Decimal("0.010"), Decimal("60000"),
                          Decimal(mark), ReportSource.WEBSOCKET, exchange_time=engine.ctx.now())


async def test_after_a_store_outage_the_decision_follows_the_newest_mark(sim, make_engine, store):
    # found by the soak: marks that came with position pushes during a PostgreSQL outage waited
    # behind their reports' saves and were decided on in order once it was over, a second old,
    # while newer marks waited behind them; and a move decided as the outage began was sent after
    # it from its old mark (both refused by the venue: the price had fallen back through them)
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION)
    p = engine.positions[(await engine.submit(signal("outage-marks"))).position_id]
    await engine.idle()
    sim.control.set_price("BTCUSDT", "60700")
    await engine.on_mark("bybit", "BTCUSDT", Decimal("60700"), at=engine.ctx.now())
    await engine.idle()
    stop = p.stop_price
    assert p.status is Status.TRAILING and stop == Decimal("60396.5")

    outage = Outage(store)
    outage.start()
    sim.control.set_price("BTCUSDT", "61500")  # the private feed's pushes carry it, and more
    clock = engine.ctx.clock

    async def private_feed() -> None:  # one report at a time, as the service hands them on
        pushed = [(price, clock.monotonic()) for price in ("61500", "61600")]  # both came now
        for price, arrived in pushed:
            await engine.on_position_report(report(engine, price), arrived=arrived)
    feed = asyncio.create_task(private_feed())
    await until(lambda: not store.available, "the store is seen down")
    sim.control.set_price("BTCUSDT", "60900")  # the price falls back during the outage
    await engine.on_mark("bybit", "BTCUSDT", Decimal("60900"), at=engine.ctx.now())
    await asyncio.sleep(0.3)
    outage.end()
    await feed
    await engine.idle()

    # the newest mark, 60,900, is below every move the older ones asked for: none was sent
    sent = [Decimal(r["params"]["stopLoss"]) for r in sim.control.requests("bybit", MOVE_PATH)
            if r["method"] == "POST"]
    assert all(price < Decimal("60900") for price in sent), sent
    assert not [e for e in store.history(p.id) if type(e).__name__ == "StopLossRejected"
                and e.code is not None]  # nothing the venue refused
    assert p.stop_price == stop and engine.last_price("bybit", "BTCUSDT") == Decimal("60900")
