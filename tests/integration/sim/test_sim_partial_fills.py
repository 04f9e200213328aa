"""Partial fills: an order filling in several executions, with the REST answers and the pushes the
venues give for that, on both venues."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import BTC, eventually, private_topics, subscribed, venue_of


async def test_a_market_order_fills_in_several_executions_and_reports_the_vwap(aex, sim):
    sim.control.set_partial_fills(3)
    sim.control.set_book(spread_bps="0", depth="0.01", levels=10)
    order = await aex.create_order(BTC, "market", "buy", 0.03)
    trades = await aex.fetch_my_trades(BTC)
    assert [(t["order"], t["price"], t["amount"]) for t in trades] == [
        (order["id"], 60000, 0.01), (order["id"], 60000.1, 0.01), (order["id"], 60000.2, 0.01)]
    if venue_of(aex) == "binance":
        assert (order["status"], order["filled"]) == ("closed", 0.03)   # the RESULT answer
        assert order["average"] == pytest.approx(60000.1)
    fetched = (await aex.fetch_order(order["id"], BTC, {"acknowledged": True})
               if venue_of(aex) == "bybit" else await aex.fetch_order(order["id"], BTC))
    assert (fetched["status"], fetched["filled"]) == ("closed", 0.03)
    assert fetched["average"] == pytest.approx(60000.1)


async def test_a_resting_limit_order_fills_a_piece_per_crossing(aex, sim):
    sim.control.set_partial_fills(2)
    order = await aex.create_order(BTC, "limit", "sell", 0.02, 60500)
    sim.control.set_price("BTCUSDT", "60600")
    half = (await aex.fetch_open_orders(BTC))[0]
    assert (half["id"], half["status"], half["filled"], half["remaining"]) == (
        order["id"], "open", 0.01, 0.01)
    raw = half["info"]
    assert raw.get("orderStatus", raw.get("status")) in ("PartiallyFilled", "PARTIALLY_FILLED")
    sim.control.set_price("BTCUSDT", "60400")            # back below: nothing more fills
    sim.control.set_price("BTCUSDT", "60550")
    assert await aex.fetch_open_orders(BTC) == []
    trades = await aex.fetch_my_trades(BTC)
    assert [(t["price"], t["amount"], t["takerOrMaker"]) for t in trades] == [
        (60500, 0.01, "maker"), (60500, 0.01, "maker")]


async def test_partial_fills_are_pushed_as_the_venues_push_them(pro, sim):
    exchange, venue = pro, venue_of(pro)
    sim.control.set_partial_fills(2)
    trades = asyncio.ensure_future(exchange.watch_my_trades(BTC))
    orders = asyncio.ensure_future(exchange.watch_orders(BTC))
    await subscribed(sim, venue_of(exchange), *private_topics(exchange, "order", "execution"))
    order = await exchange.create_order(BTC, "market", "buy", 0.02)
    await asyncio.wait_for(trades, 3)
    await eventually(lambda: len(exchange.myTrades) == 2)     # the second lands in the cache
    seen = list(exchange.myTrades)
    assert [(t["order"], t["amount"]) for t in seen] == [(order["id"], 0.01)] * 2
    assert (await asyncio.wait_for(orders, 3))[-1]["id"] == order["id"]
    if venue == "binance":
        updates = [p["payload"]["o"] for p in sim.control.pushes("binance")
                   if p["topic"] == "ORDER_TRADE_UPDATE"]
        assert [(u["x"], u["X"], u["l"], u["z"]) for u in updates] == [
            ("NEW", "NEW", "0", "0"), ("TRADE", "PARTIALLY_FILLED", "0.01", "0.01"),
            ("TRADE", "FILLED", "0.01", "0.02")]
    else:
        executions = [p for p in sim.control.pushes("bybit") if p["topic"] == "execution"]
        assert [e["payload"]["data"][0]["execQty"] for e in executions] == ["0.01", "0.01"]
        statuses = [p["payload"]["data"][0]["orderStatus"] for p in sim.control.pushes("bybit")
                    if p["topic"] == "order"]
        assert statuses[-2:] == ["PartiallyFilled", "Filled"]


async def test_a_bybit_position_stop_fills_in_pieces_for_the_size_it_had(abybit, sim):
    # found by the soak (seed 5007): the triggered stop's order was resized to the shrinking
    # position after each piece, so it ended filled beyond its quantity (leavesQty -0.002)
    sim.control.set_partial_fills(4)
    await abybit.create_order(BTC, "market", "sell", 0.01)
    await abybit.private_post_v5_position_trading_stop({"category": "linear", "symbol": "BTCUSDT",
                                                        "stopLoss": "61200", "positionIdx": 0})
    sim.control.set_price("BTCUSDT", "61300")

    [stop] = [o for o in sim.control.state("bybit")["orders"] if o["kind"] == "position_sl"]
    assert (stop["status"], stop["qty"], stop["filled_qty"]) == ("filled", "0.01", "0.01")
    assert not sim.control.state("bybit")["positions"]
