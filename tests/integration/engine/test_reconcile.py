"""Phantoms, ghosts and mismatches against the simulator."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.test_open_saga import venue_position
from warden.domain.lifecycle import Status
from warden.domain.values import (
    CloseBasis,
    CloseReason,
    OrderOrigin,
    Origin,
    PhantomPolicy,
    StopPurpose,
)


def account_events(store, name: str) -> list:
    return [e for e in store.all_events() if type(e).__name__ == name]


async def test_an_outside_btcusdt_position_is_found_adopted_and_protected(sim, make_engine, store):
    sim.control.open_position("bybit", "BTCUSDT", "buy", "0.020")  # the seed's untracked BTCUSDT
    engine = await make_engine()  # start() reconciles before accepting signals

    phantom = account_events(store, "PhantomDetected")
    adopted = [p for p in engine.positions.values() if p.origin is Origin.ADOPTED]
    assert [e.report.symbol for e in phantom] == ["BTCUSDT"] and phantom[0].action is PhantomPolicy.ADOPT
    assert len(adopted) == 1 and adopted[0].status is Status.PROTECTED
    assert adopted[0].quantity == Decimal("0.020")
    assert Decimal(venue_position(sim, "bybit")["stop_loss"]) == adopted[0].stop_price


async def test_with_the_close_policy_a_phantom_is_closed_on_the_exchange(sim, make_engine, store):
    engine = await make_engine()
    sim.control.open_position("binance", "ETHUSDT", "sell", "0.5")
    engine.ctx.config = FAST.__class__(**{**FAST.__dict__, "phantom_policy": PhantomPolicy.CLOSE})

    await engine.reconciler.snapshot("binanceusdm", "binance")

    closed = [e for e in store.all_events() if type(e).__name__ == "PositionClosed"]
    assert [e.reason for e in closed] == [CloseReason.PHANTOM_CLOSED]
    assert venue_position(sim, "binanceusdm", "ETHUSDT") is None


async def test_a_phantom_under_the_alert_policy_is_recorded_once_and_left_alone(sim, make_engine, store):
    engine = await make_engine(config=FAST.__class__(**{**FAST.__dict__,
                                                        "phantom_policy": PhantomPolicy.ALERT}))
    sim.control.open_position("bybit", "ETHUSDT", "buy", "0.5")
    await engine.reconciler.snapshot("bybit", "bybit")
    await engine.reconciler.snapshot("bybit", "bybit")

    assert len(account_events(store, "PhantomDetected")) == 1
    assert not engine.positions and venue_position(sim, "bybit", "ETHUSDT") is not None


async def test_a_stop_hit_on_the_exchange_closes_the_position_with_the_fill_price(sim, make_engine, store):
    engine = await make_engine()
    outcome = await engine.submit(signal("ghost-stop"))
    await engine.idle()
    stop = store.repository.get(outcome.position_id).stop_price
    sim.control.set_price("BTCUSDT", stop - 50)  # the venue triggers the stop
    assert venue_position(sim, "bybit") is None

    await engine.reconciler.snapshot("bybit", "bybit")

    position = store.repository.get(outcome.position_id)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.STOP_HIT
    assert position.exit_price is not None and abs(position.exit_price - stop) <= stop * Decimal("0.005")
    assert position.realized_pnl < 0


async def test_a_close_by_hand_is_recorded_manual_from_the_venues_order(sim, make_engine, store):
    engine = await make_engine()
    outcome = await engine.submit(signal("ghost-manual", exchange="binanceusdm", side="short"))
    await engine.idle()
    sim.control.set_price("BTCUSDT", "59000")
    sim.control.close_position("binance", "BTCUSDT")

    await engine.reconciler.snapshot("binanceusdm", "binance")

    position = store.repository.get(outcome.position_id)
    [closed] = [e for e in store.history(position.id) if type(e).__name__ == "PositionClosed"]
    assert position.close_reason is CloseReason.MANUAL and closed.basis is CloseBasis.VENUE_ORDER
    assert closed.closed_by.origin is OrderOrigin.ORDER and closed.closed_by.order_type == "MARKET"
    assert position.exit_price == Decimal("59000") and position.realized_pnl > 0


async def test_a_failed_query_is_never_taken_for_flat(sim, make_engine, store):
    engine = await make_engine()
    outcome = await engine.submit(signal("still-open"))
    await engine.idle()
    sim.control.inject("http_error", venue="bybit", path="/v5/position/list", status=503)

    assert not await engine.reconciler.snapshot("bybit", "bybit")

    assert store.repository.get(outcome.position_id).status is Status.PROTECTED


async def test_a_size_mismatch_is_recorded(sim, make_engine, store):
    engine = await make_engine()
    await engine.submit(signal("mismatch"))
    await engine.idle()
    sim.control.open_position("bybit", "BTCUSDT", "buy", "0.005")  # someone adds by hand

    await engine.reconciler.snapshot("bybit", "bybit")

    [mismatch] = account_events(store, "PositionMismatch")
    assert mismatch.expected_size == Decimal("0.010") and mismatch.report.size == Decimal("0.015")


async def test_a_stop_cancelled_by_hand_is_put_back_at_the_next_reconcile(sim, make_engine, store):
    from dataclasses import replace

    from warden.domain.reports import StopReport

    engine = await make_engine(config=replace(FAST, reconcile_interval_s=0))
    outcome = await engine.submit(signal("hand-cancel", exchange="binanceusdm"))
    await engine.idle()
    position = store.repository.get(outcome.position_id)
    port = engine.ctx.ports["binanceusdm", "binance"]
    await port.cancel_stop(StopReport("binanceusdm", "BTCUSDT", position.side, position.stop_price,
                                      position.stop_order_id))

    await engine.tick()

    assert [s.stop_price for s in await port.fetch_stops("BTCUSDT")] == [position.stop_price]
    purposes = [e.purpose for e in store.history(position.id) if type(e).__name__ == "StopLossRequested"]
    assert purposes == [StopPurpose.INITIAL, StopPurpose.RESTORE]


async def test_a_snapshot_is_recorded_only_when_it_changes_something(sim, make_engine, store):
    engine = await make_engine()  # start() reconciled both accounts: flat, nothing to record
    await engine.submit(signal("snap"))
    await engine.idle()

    for _ in range(3):
        sim.control.step(count=1, symbols=["BTCUSDT"])  # the mark moves: not a change of position
        await engine.reconciler.snapshot("bybit", "bybit")
    sim.control.open_position("bybit", "BTCUSDT", "buy", "0.005")  # the size changes
    await engine.reconciler.snapshot("bybit", "bybit")
    await engine.reconciler.snapshot("bybit", "bybit")

    snapshots = account_events(store, "PositionsSnapshotted")
    assert [[(r.symbol, r.size) for r in s.reports] for s in snapshots] == [
        [("BTCUSDT", Decimal("0.010"))], [("BTCUSDT", Decimal("0.015"))]]


async def test_an_adopted_position_that_grows_on_the_venue_is_covered_in_full(sim, make_engine, store):
    """A hand order still filling in pieces when warden found it (soak seeds 7102, 8001): the
    adopted position follows the venue's size and its Binance stop order is resized to all of it."""
    from tests.integration.engine.venue_state import held_stops

    sim.control.open_position("binance", "BTCUSDT", "buy", "0.010")
    engine = await make_engine(venues=("binanceusdm",))
    [adopted] = [p for p in engine.positions.values() if p.origin is Origin.ADOPTED]
    assert [s.qty for s in held_stops(sim, "binanceusdm")] == [Decimal("0.010")]

    sim.control.open_position("binance", "BTCUSDT", "buy", "0.010")  # the rest of the hand order
    await engine.reconciler.snapshot("binanceusdm", "binance")

    assert adopted.filled_qty == Decimal("0.020") and adopted.status is Status.PROTECTED
    assert [s.qty for s in held_stops(sim, "binanceusdm")] == [Decimal("0.020")]
    grew = [e for e in store.history(adopted.id) if type(e).__name__ == "AdoptedPositionGrew"]
    assert [e.size for e in grew] == [Decimal("0.020")]
    assert not account_events(store, "PositionMismatch")  # followed, not merely flagged
