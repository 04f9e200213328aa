"""Nothing left behind: when warden concludes a position is closed, its orders leave the venue.

The scenario of issue 9: a Binance position closed by hand kept its stop on the venue, and that
stop later closed the next position on the symbol.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.venue_state import events, held_stops, open_orders, position_qty
from warden.domain.lifecycle import Status
from warden.domain.policies import AgedExitPolicy, AgedPhase
from warden.domain.values import CloseReason
from warden.engine.ports import StopMode

ORDER_STOP_VENUES = [("bybit", StopMode.CONDITIONAL), ("binanceusdm", StopMode.CONDITIONAL)]
SIM_ACCOUNT = {"bybit": "bybit", "binanceusdm": "binance"}


@pytest.mark.parametrize(("venue", "mode"), ORDER_STOP_VENUES, ids=["bybit", "binance"])
async def test_the_stop_of_a_position_closed_by_hand_never_closes_the_next_one(
        sim, make_engine, store, venue, mode):
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(stop_mode=mode)
    first = await engine.submit(signal(f"first-{venue}", exchange=venue))
    await engine.idle()
    old_stop = engine.positions[first.position_id].stop_price  # 58,800
    sim.control.close_position(SIM_ACCOUNT[venue], "BTCUSDT")  # by hand, in the venue's UI

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    closed = store.repository.get(first.position_id)
    assert closed.status is Status.CLOSED and closed.close_reason is CloseReason.MANUAL
    assert open_orders(sim, venue) == []  # its stop is cancelled, and the venue lists none
    [event] = events(store, closed.id, "PositionClosed")
    assert event.raw["cancelled_orders"] == [closed.stop_order_id]

    sim.control.set_price("BTCUSDT", "58000")  # below where the old stop sat
    second = await engine.submit(signal(f"second-{venue}", exchange=venue))
    await engine.idle()
    sim.control.set_price("BTCUSDT", "57900")  # would have fired a stop left at 58,800

    after = engine.positions[second.position_id]
    assert after.status is Status.PROTECTED and position_qty(sim, venue) == Decimal("0.010")
    assert [s.price for s in held_stops(sim, venue)] == [after.stop_price] != [old_stop]


@pytest.mark.parametrize(("venue", "mode"), ORDER_STOP_VENUES, ids=["bybit", "binance"])
async def test_a_stop_hit_leaves_no_order_of_the_position_on_the_venue(sim, make_engine, store,
                                                                       venue, mode):
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(stop_mode=mode)
    outcome = await engine.submit(signal(f"hit-{venue}", exchange=venue))
    await engine.idle()
    p = engine.positions[outcome.position_id]
    port = engine.ctx.port(p)
    # a second stop of warden's beside the first (as a move whose cancel failed leaves one)
    extra = await port.place_stop("BTCUSDT", p.side, p.filled_qty, p.stop_price - 100,
                                  client_order_id=p.client_id_prefix + "extra")
    sim.control.set_price("BTCUSDT", str(p.stop_price - 10))  # the stop fires

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    assert p.status is Status.CLOSED and p.close_reason is CloseReason.STOP_HIT
    assert open_orders(sim, venue) == []
    assert events(store, p.id, "PositionClosed")[0].raw["cancelled_orders"] == [extra.order_id]


async def test_an_order_warden_did_not_send_is_left_alone(sim, make_engine, store):
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(stop_mode=StopMode.CONDITIONAL)
    outcome = await engine.submit(signal("mine", exchange="binanceusdm"))
    await engine.idle()
    p = engine.positions[outcome.position_id]
    theirs = await engine.ctx.port(p).place_stop("BTCUSDT", p.side, p.filled_qty, Decimal("55000"),
                                                 client_order_id="someone-elses-stop")
    sim.control.close_position("binance", "BTCUSDT")

    await engine.reconciler.snapshot("binanceusdm", "binance")

    assert p.status is Status.CLOSED
    assert [o["id"] for o in open_orders(sim, "binanceusdm")] == [int(theirs.order_id)]


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_an_aged_exit_and_a_rollback_leave_nothing_behind(sim, make_engine, store, clock, venue):
    sim.control.set_price("BTCUSDT", "60000")
    aged = AgedExitPolicy(max_age_seconds=60, phases=(AgedPhase(0, Decimal("-5")),),
                          hard_limit_seconds=60)
    engine = await make_engine(config=replace(FAST, aged=aged), stop_mode=StopMode.CONDITIONAL)
    old = await engine.submit(signal(f"old-{venue}", exchange=venue))
    await engine.idle()
    clock.advance(125)
    await engine.tick()  # the hard limit: closed at market
    assert store.repository.get(old.position_id).close_reason is CloseReason.AGED_EXIT
    assert open_orders(sim, venue) == [] and position_qty(sim, venue) == 0

    sim.control.inject("reject_stop", venue=SIM_ACCOUNT[venue], times=10)  # never protected
    rolled = await engine.submit(signal(f"rolled-{venue}", exchange=venue))
    await engine.idle()
    assert store.repository.get(rolled.position_id).close_reason is CloseReason.ROLLED_BACK
    assert open_orders(sim, venue) == [] and position_qty(sim, venue) == 0
