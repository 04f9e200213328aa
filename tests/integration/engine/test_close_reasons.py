"""Why a position closed comes from the venue's order that closed it, not from its exit price.

Before, a hand close at 59,000 with the stop at 58,800 was recorded `stop_hit` (within 0.5 % of the
stop), hand-closed trailing positions `trailing_stop_hit`, and a stop the price gapped through
(3,000 -> 2,900) `closed_externally`, on both venues.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.venue_state import events
from warden.domain.lifecycle import Status
from warden.domain.values import CloseBasis, CloseReason, OrderOrigin
from warden.engine.ports import StopMode

KINDS = [("bybit", StopMode.POSITION), ("bybit", StopMode.CONDITIONAL),
         ("binanceusdm", StopMode.CONDITIONAL)]
IDS = [f"{v}-{m.value}" for v, m in KINDS]
SIM_ACCOUNT = {"bybit": "bybit", "binanceusdm": "binance"}


async def opened(sim, make_engine, venue, mode, symbol, price, name):
    sim.control.set_price(symbol, price)
    engine = await make_engine(stop_mode=mode)
    outcome = await engine.submit(signal(name, exchange=venue, symbol=symbol,
                                         quantity="0.010" if symbol == "BTCUSDT" else "1"))
    await engine.idle()
    return engine, engine.positions[outcome.position_id]


def closed_event(store, p):
    [closed] = events(store, p.id, "PositionClosed")
    return closed


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=IDS)
async def test_a_hand_close_near_the_stop_is_manual(sim, make_engine, store, venue, mode):
    engine, p = await opened(sim, make_engine, venue, mode, "BTCUSDT", "60000", f"hand-{venue}")
    assert p.stop_price == Decimal("58800")
    sim.control.set_price("BTCUSDT", "59000")  # 0.34 % from the stop: the old guess said stop_hit
    sim.control.close_position(SIM_ACCOUNT[venue], "BTCUSDT")

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    closed = closed_event(store, p)
    assert (closed.reason, closed.basis) == (CloseReason.MANUAL, CloseBasis.VENUE_ORDER)
    assert closed.closed_by.origin is OrderOrigin.ORDER and closed.closed_by.price == Decimal("59000")
    assert closed.closed_by.client_order_id.startswith("external-")  # the venue's own record of it


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=IDS)
async def test_a_stop_the_price_gapped_through_is_a_stop_hit(sim, make_engine, store, venue, mode):
    engine, p = await opened(sim, make_engine, venue, mode, "ETHUSDT", "3000", f"gap-{venue}")
    assert p.stop_price == Decimal("2940")
    sim.control.set_price("ETHUSDT", "2900")  # one jump through the stop: it fills at 2,900

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    closed = closed_event(store, p)
    assert (closed.reason, closed.basis) == (CloseReason.STOP_HIT, CloseBasis.VENUE_ORDER)
    assert closed.exit_price == Decimal("2900") and closed.closed_by.price == Decimal("2900")
    expected = OrderOrigin.POSITION_STOP if mode is StopMode.POSITION else OrderOrigin.STOP
    assert closed.closed_by.origin is expected and closed.closed_by.trigger_price == Decimal("2940")
    if p.stop_order_id is not None:
        assert closed.closed_by.order_id == p.stop_order_id  # the very stop warden placed
    assert closed.closed_by.order_type in ("StopLoss", "Stop", "STOP_MARKET")


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=IDS)
async def test_a_trailing_position_closed_by_hand_is_manual(sim, make_engine, store, venue, mode):
    engine, p = await opened(sim, make_engine, venue, mode, "BTCUSDT", "60000", f"trail-{venue}")
    for price in ("60700", "61200"):
        sim.control.set_price("BTCUSDT", price)
        await engine.on_mark(venue, "BTCUSDT", Decimal(price), at=engine.ctx.now())
        await engine.idle()
    assert p.status is Status.TRAILING
    sim.control.set_price("BTCUSDT", str(p.stop_price + 20))  # right by the trailing stop
    sim.control.close_position(SIM_ACCOUNT[venue], "BTCUSDT")

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    assert closed_event(store, p).reason is CloseReason.MANUAL


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=IDS)
async def test_a_trailing_stop_hit_is_told_from_its_order(sim, make_engine, store, venue, mode):
    engine, p = await opened(sim, make_engine, venue, mode, "BTCUSDT", "60000", f"trail-hit-{venue}")
    sim.control.set_price("BTCUSDT", "61000")
    await engine.on_mark(venue, "BTCUSDT", Decimal("61000"), at=engine.ctx.now())
    await engine.idle()
    sim.control.set_price("BTCUSDT", str(p.stop_price - 300))  # a gap through the trailing stop

    await engine.reconciler.snapshot(venue, SIM_ACCOUNT[venue])

    closed = closed_event(store, p)
    assert (closed.reason, closed.basis) == (CloseReason.TRAILING_STOP_HIT, CloseBasis.VENUE_ORDER)


async def test_without_any_word_from_the_venue_the_reason_is_a_recorded_guess(sim, make_engine, store):
    engine, p = await opened(sim, make_engine, "binanceusdm", StopMode.CONDITIONAL, "BTCUSDT",
                             "60000", "guess")
    sim.control.set_price("BTCUSDT", "58700")  # the stop fires
    sim.control.inject("http_error", venue="binance", path="/fapi/v1/order", status=503)

    await engine.reconciler.snapshot("binanceusdm", "binance")

    closed = closed_event(store, p)
    assert (closed.reason, closed.basis) == (CloseReason.STOP_HIT, CloseBasis.PRICE_GUESS)
    assert closed.closed_by.origin is OrderOrigin.UNKNOWN
