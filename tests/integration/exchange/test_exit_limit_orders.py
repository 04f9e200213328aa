"""The aged exit's order operations through unmodified ccxt against the simulator, on both venues:
a reduce-only limit order rests, is amended in place (same id) and cancelled; it fills at its own
price when the mark crosses it."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.integration.exchange.exchange_sim_helpers import QTY, SYMBOL, sim_account, sim_position
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.exchange.errors import ORDER_NOT_FOUND, has_code
from warden.domain.reports import ExecutionPrice
from warden.domain.values import OrderStatus, Side, Venue
from warden.engine.errors import Rejected
from warden.sim.server import Simulator


async def open_long(exchange: CcxtExchange) -> None:
    order = await exchange.open_market(SYMBOL, Side.LONG, QTY, "entry-1")
    price = await exchange.resolve_execution_price(SYMBOL, order.order_id, "entry-1", QTY,
                                                   time.monotonic() + 3)
    assert isinstance(price, ExecutionPrice)


def resting(sim: Simulator, venue: Venue) -> list[dict]:
    return [o for o in sim.control.state(sim_account(venue))["orders"]
            if o["status"] in ("new", "partially_filled") and o.get("price")]


async def test_an_exit_limit_rests_is_amended_in_place_and_cancelled(sim: Simulator, venue: Venue,
                                                                     exchange: CcxtExchange) -> None:
    await open_long(exchange)
    placed = await exchange.place_exit_limit(SYMBOL, Side.LONG, QTY, Decimal("60300.0"), "exit-1")
    found = await exchange.fetch_order_by_client_id(SYMBOL, "exit-1")
    assert found is not None and found.order_id == placed.order_id and found.is_open
    assert (found.price, found.reduce_only, found.qty) == (Decimal("60300.0"), True, QTY)

    amended = await exchange.amend_order(found, Decimal("60100.0"))
    again = await exchange.fetch_order_by_client_id(SYMBOL, "exit-1")
    assert amended.order_id == again.order_id == placed.order_id and again.price == Decimal("60100.0")
    assert len(resting(sim, venue)) == 1

    await exchange.cancel_order(again)
    await exchange.cancel_order(again)  # gone already: counts as cancelled
    gone = await exchange.fetch_order_by_client_id(SYMBOL, "exit-1")
    assert gone is not None and gone.status is OrderStatus.CANCELLED and not resting(sim, venue)
    assert sim_position(sim, venue) is not None


async def test_the_exit_limit_fills_at_its_own_price_when_the_mark_crosses_it(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    await open_long(exchange)
    order = await exchange.place_exit_limit(SYMBOL, Side.LONG, QTY, Decimal("60300.0"), "exit-2")
    sim.control.set_price(SYMBOL, "60450")  # gapped through: a resting order fills at its price

    fills = await exchange.fetch_fills(SYMBOL, order.order_id)
    assert [(f.price, f.qty) for f in fills] == [(Decimal("60300.0"), QTY)]
    assert sim_position(sim, venue) is None
    filled = await exchange.fetch_order_by_client_id(SYMBOL, "exit-2")
    assert filled.status is OrderStatus.FILLED and filled.filled_qty == QTY


async def test_amending_an_order_the_venue_no_longer_holds_is_refused_as_not_found(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    await open_long(exchange)
    await exchange.place_exit_limit(SYMBOL, Side.LONG, QTY, Decimal("60300.0"), "exit-3")
    order = await exchange.fetch_order_by_client_id(SYMBOL, "exit-3")
    await exchange.cancel_order(order)
    with pytest.raises(Rejected) as refused:
        await exchange.amend_order(order, Decimal("60200.0"))
    assert has_code(refused.value, exchange.venue, ORDER_NOT_FOUND), refused.value
