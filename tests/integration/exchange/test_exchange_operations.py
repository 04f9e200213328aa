"""Every `ExchangePort` operation through unmodified ccxt against the simulator, on both venues."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.integration.exchange.exchange_sim_helpers import QTY, SYMBOL, sim_account, sim_position, sim_stops
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.domain.reports import ExecutionPrice
from warden.domain.values import OrderSide, OrderStatus, Side, Venue
from warden.engine.errors import Rejected
from warden.engine.ports import StopMode
from warden.sim.server import Simulator


async def open_long(exchange: CcxtExchange, cid: str = "entry-1") -> ExecutionPrice:
    order = await exchange.open_market(SYMBOL, Side.LONG, QTY, cid)
    price = await exchange.resolve_execution_price(SYMBOL, order.order_id, cid, QTY,
                                                   time.monotonic() + 3)
    assert isinstance(price, ExecutionPrice), price
    return price


async def test_instruments_carry_tick_step_and_minimums(exchange: CcxtExchange) -> None:
    instruments = await exchange.load_instruments()
    btc = instruments[SYMBOL]
    assert btc.tick_size > 0 and btc.qty_step > 0 and btc.min_qty >= btc.qty_step
    assert btc.round_stop(Side.LONG, Decimal("58000.01")) > Decimal("58000.01") - btc.tick_size


async def test_an_entry_resolves_to_the_exchange_fill_price(sim: Simulator, venue: Venue,
                                                            exchange: CcxtExchange) -> None:
    sim.control.set_price(SYMBOL, "61234.5")
    price = await open_long(exchange)
    assert price.price == Decimal(sim_position(sim, venue)["entry_price"]) == Decimal("61234.5")
    assert price.qty == QTY


async def test_open_market_is_idempotent_by_client_order_id(sim: Simulator, venue: Venue,
                                                            exchange: CcxtExchange) -> None:
    first = await exchange.open_market(SYMBOL, Side.LONG, QTY, "same-id")
    again = await exchange.open_market(SYMBOL, Side.LONG, QTY, "same-id")
    assert again.order_id == first.order_id and again.client_order_id == "same-id"
    assert Decimal(sim_position(sim, venue)["qty"]) == QTY  # not opened twice


async def test_an_order_is_found_by_its_client_id(exchange: CcxtExchange) -> None:
    await open_long(exchange, "find-me")
    found = await exchange.fetch_order_by_client_id(SYMBOL, "find-me")
    assert found is not None and found.status is OrderStatus.FILLED and found.side is OrderSide.BUY
    assert await exchange.fetch_order_by_client_id(SYMBOL, "never-sent") is None


async def test_positions_and_fills_are_reported(exchange: CcxtExchange) -> None:
    price = await open_long(exchange, "pf-1")
    [position] = await exchange.fetch_positions()
    assert (position.symbol, position.side, position.size) == (SYMBOL, Side.LONG, QTY)
    assert position.entry_price == price.price
    fills = await exchange.fetch_fills(SYMBOL)
    assert sum(f.qty for f in fills) == QTY and all(f.price == price.price for f in fills)


async def test_a_stop_is_placed_moved_and_cancelled(sim: Simulator, venue: Venue,
                                                    exchange: CcxtExchange) -> None:
    sim.control.set_price(SYMBOL, "60000")
    await open_long(exchange, "stop-1")
    stop = await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"))
    assert _stop_on_exchange(sim, venue) == Decimal("58000")
    moved = await exchange.move_stop(stop, QTY, Decimal("59000"))
    assert moved.stop_price == Decimal("59000") == _stop_on_exchange(sim, venue)
    await exchange.cancel_stop(moved)
    assert _stop_on_exchange(sim, venue) is None


async def test_re_sending_the_same_stop_is_a_success(sim: Simulator, venue: Venue,
                                                     exchange: CcxtExchange) -> None:
    await open_long(exchange, "stop-2")
    stop = await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"))
    same = await exchange.move_stop(stop, QTY, Decimal("58000"))  # Bybit answers 34040
    assert same.stop_price == Decimal("58000") == _stop_on_exchange(sim, venue)


async def test_a_bybit_stop_can_be_a_reduce_only_conditional_order(sim: Simulator) -> None:
    from tests.integration.exchange.exchange_sim_helpers import make_config
    exchange = CcxtExchange(make_config(sim, Venue.BYBIT), stop_mode=StopMode.CONDITIONAL)
    try:
        await open_long(exchange, "cond-1")
        stop = await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"))
        assert stop.order_id is not None
        assert [s.order_id for s in await exchange.fetch_stops(SYMBOL)] == [stop.order_id]
        moved = await exchange.move_stop(stop, QTY, Decimal("58500"))
        [order] = sim_stops(sim, Venue.BYBIT)
        assert (Decimal(order["trigger_price"]), order["reduce_only"]) == (Decimal("58500"), True)
        await exchange.cancel_stop(moved)
        assert sim_stops(sim, Venue.BYBIT) == []
    finally:
        await exchange.close()


async def test_close_market_is_reduce_only_and_flattens(sim: Simulator, venue: Venue,
                                                        exchange: CcxtExchange) -> None:
    await open_long(exchange, "close-1")
    closing = await exchange.close_market(SYMBOL, Side.LONG, QTY, "close-1-exit")
    assert closing.reduce_only and closing.side is OrderSide.SELL
    assert sim_position(sim, venue) is None
    assert await exchange.fetch_positions() == []
    with pytest.raises(Rejected):  # reduce-only: a second close must not open a short
        await exchange.close_market(SYMBOL, Side.LONG, QTY, "close-1-again")
    assert sim_position(sim, venue) is None


def _stop_on_exchange(sim: Simulator, venue: Venue) -> Decimal | None:
    """The stop protecting the BTCUSDT long: the position's own stop or a trigger order."""
    position = sim_position(sim, venue)
    if position is not None and position["stop_loss"] not in (None, "", "0"):
        return Decimal(position["stop_loss"])
    stops = [s for s in sim.control.state(sim_account(venue))["stops"] if s["symbol"] == SYMBOL]
    assert len(stops) <= 1, stops
    return Decimal(stops[0]["trigger_price"]) if stops else None


async def test_the_stops_held_by_the_venue_can_be_listed(sim: Simulator, venue: Venue,
                                                        exchange: CcxtExchange) -> None:
    await open_long(exchange, "list-1")
    assert await exchange.fetch_stops(SYMBOL) == []
    placed = await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"))
    [listed] = await exchange.fetch_stops(SYMBOL)
    assert (listed.side, listed.stop_price, listed.order_id) == (Side.LONG, Decimal("58000"),
                                                                 placed.order_id)


async def test_a_binance_stop_is_a_reduce_only_quantity_order_moved_place_first(sim: Simulator) -> None:
    """Not closePosition (one per side, -4130): a move could only cancel first and leave the
    position bare in between."""
    from tests.integration.exchange.exchange_sim_helpers import make_config
    exchange = CcxtExchange(make_config(sim, Venue.BINANCE))
    try:
        await open_long(exchange, "qty-stop")
        stop = await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"),
                                         client_order_id="w-test-stop-1")
        moved = await exchange.move_stop(stop, QTY, Decimal("58500"), client_order_id="w-test-stop-2")

        requests = [(r["method"], r["params"]) for r in sim.control.requests("binance", "/fapi/v1/algoOrder")]
        assert [method for method, _ in requests] == ["POST", "POST", "DELETE"]
        placed = [params for method, params in requests if method == "POST"]
        assert all(p["reduceOnly"] == "true" and p["quantity"] == "0.01" and "closePosition" not in p
                   for p in placed)
        [listed] = await exchange.fetch_stops(SYMBOL)
        assert (listed.order_id, listed.client_order_id, listed.stop_price) == (
            moved.order_id, "w-test-stop-2", Decimal("58500"))
    finally:
        await exchange.close()
