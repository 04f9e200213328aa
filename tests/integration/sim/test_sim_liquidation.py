"""Liquidation: maintenance margin per instrument, the liquidation price in position reports, and
the venue closing the position with its own order and pushes once the mark crosses it."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import BTC, private_topics, subscribed, venue_of


async def _long_at_10x(exchange) -> None:
    await exchange.set_leverage(10, BTC) if venue_of(exchange) == "binance" else None
    await exchange.create_order(BTC, "market", "buy", 0.1)


async def test_liquidation_is_off_by_default(aex, sim):
    await _long_at_10x(aex)
    sim.control.set_price("BTCUSDT", "40000")
    position, = [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert position["contracts"] == 0.1 and not position["liquidationPrice"]


async def test_the_position_report_carries_the_liquidation_price(aex, sim):
    sim.control.set_liquidation(True)
    await _long_at_10x(aex)
    position, = [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert position["liquidationPrice"] == 54300        # 60000 * (1 - 1/10 + 0.005)
    sim.control.set_maintenance_margin("BTCUSDT", "0.05")
    position, = [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert position["liquidationPrice"] == 57000


async def test_crossing_the_liquidation_price_closes_the_position_at_bankruptcy(aex, sim):
    sim.control.set_liquidation(True)
    await _long_at_10x(aex)
    resting = await aex.create_order(BTC, "limit", "sell", 0.1, 65000, {"reduceOnly": True})
    wallet_before = (await aex.fetch_balance())["USDT"]["total"]
    sim.control.set_price("BTCUSDT", "54400")
    assert [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    sim.control.set_price("BTCUSDT", "54250")
    assert not [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert await aex.fetch_open_orders(BTC) == []
    wallet_after = (await aex.fetch_balance())["USDT"]["total"]
    assert wallet_before - wallet_after == pytest.approx(600)   # the position's whole margin
    venue = venue_of(aex)
    state = sim.control.state(venue)
    liquidation, = [o for o in state["orders"] if o["origin"] == "liquidation"]
    assert (liquidation["side"], liquidation["avg_price"], liquidation["filled_qty"]) == (
        "sell", "54000", "0.1")
    cancelled, = [o for o in state["orders"] if o["closure"] == "before_liq"]
    assert cancelled["client_id"] == (resting["clientOrderId"] or "")
    if venue == "bybit":
        executions = (await aex.privateGetV5ExecutionList({"category": "linear",
                                                           "symbol": "BTCUSDT"}))["result"]
        assert executions["list"][0]["execType"] == "BustTrade"
        history = await aex.fetch_closed_orders(BTC)
        assert "CreateByTakeOver_PassThrough" in {o["info"]["createType"] for o in history}
    else:
        closing = (await aex.fetch_my_trades(BTC))[-1]
        assert (closing["side"], closing["price"]) == ("sell", 54000)


async def test_liquidation_is_pushed_with_the_venues_own_markers(pro, sim):
    exchange, venue = pro, venue_of(pro)
    sim.control.set_liquidation(True)
    await _long_at_10x(exchange)
    await asyncio.wait_for(exchange.watch_positions(), 3)
    positions = asyncio.ensure_future(exchange.watch_positions())
    orders = asyncio.ensure_future(exchange.watch_orders(BTC))
    trades = asyncio.ensure_future(exchange.watch_my_trades(BTC))
    await subscribed(sim, venue_of(exchange), *private_topics(exchange, "order", "execution", "position"))
    sim.control.set_price("BTCUSDT", "50000")
    pushed = await asyncio.wait_for(positions, 3)
    assert not pushed[-1]["contracts"]
    await asyncio.wait_for(orders, 3)
    if venue == "binance":          # ccxt turns only x=TRADE into trades, not CALCULATED
        trades.cancel()
        update, = [p["payload"]["o"] for p in sim.control.pushes("binance")
                   if p["topic"] == "ORDER_TRADE_UPDATE" and p["payload"]["o"]["x"] == "CALCULATED"]
        assert update["c"].startswith("autoclose-") and update["X"] == "FILLED"
        assert (update["L"], update["S"]) == ("54000", "SELL")
    else:
        assert (await asyncio.wait_for(trades, 3))[-1]["price"] == 54000
        execution, = [p["payload"]["data"][0] for p in sim.control.pushes("bybit")
                      if p["topic"] == "execution"]
        assert (execution["execType"], execution["execPrice"]) == ("BustTrade", "54000")


async def test_a_stop_above_the_liquidation_price_fires_first(aex, sim):
    sim.control.set_liquidation(True)
    await _long_at_10x(aex)
    await aex.create_order(BTC, "market", "sell", 0.1, None,
                           {"stopLossPrice": 56000, "reduceOnly": True})
    sim.control.set_price("BTCUSDT", "50000")           # one gap through stop and liquidation
    state = sim.control.state(venue_of(aex))
    assert not [o for o in state["orders"] if o["origin"] == "liquidation"]
    assert state["fills"][-1]["price"] == "50000"        # the stop's market close
