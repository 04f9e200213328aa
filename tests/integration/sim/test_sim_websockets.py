"""ccxt.pro watch_* over the simulator's Bybit and Binance websockets, and server-side drops."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

BTC = "BTC/USDT:USDT"


def venue_of(exchange) -> str:
    return "bybit" if exchange.id == "bybit" else "binance"


async def _soon(coro, timeout: float = 3.0):
    return await asyncio.wait_for(coro, timeout)


async def _started(coro):
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.2)          # let it connect, authenticate and subscribe
    return task


async def test_watch_orders_trades_and_positions_see_a_market_fill(pro, sim):
    exchange, venue = pro, venue_of(pro)
    sim.control.set_price("BTCUSDT", "60010.5")
    if venue == "bybit":
        await _soon(exchange.watch_positions())        # first call: REST snapshot only
    trades = await _started(exchange.watch_my_trades())
    positions = await _started(exchange.watch_positions())
    orders = await _started(exchange.watch_orders())
    created = await exchange.create_order(BTC, "market", "buy", 0.012)
    trade = (await _soon(trades))[-1]
    assert (trade["order"], trade["price"], trade["amount"]) == (created["id"], 60010.5, 0.012)
    position = (await _soon(positions))[-1]
    assert (position["symbol"], position["contracts"], position["entryPrice"]) == (
        BTC, 0.012, 60010.5)
    order = (await _soon(orders))[-1]
    assert order["id"] == created["id"]
    if order["status"] != "closed":                    # Binance pushes NEW before TRADE
        order = (await _soon(exchange.watch_orders()))[-1]
    assert (order["status"], order["average"]) == ("closed", 60010.5)


async def test_stop_trigger_is_pushed_as_a_closed_position(pro, sim):
    exchange, venue = pro, venue_of(pro)
    await exchange.create_order(BTC, "market", "buy", 0.012)
    if venue == "bybit":
        await exchange.create_order(BTC, "market", "sell", 0.012, None, {
            "stopLossPrice": 58500, "tradingStopEndpoint": True, "positionIdx": 0})
    else:
        await exchange.create_order(BTC, "market", "sell", None, None,
                                    {"stopLossPrice": 58500, "closePosition": True})
    await _soon(exchange.watch_positions())    # both venues answer the first call from REST
    positions = await _started(exchange.watch_positions())
    sim.control.set_price("BTCUSDT", "58400")
    pushed = await _soon(positions)
    assert [p["contracts"] for p in pushed if p["symbol"] == BTC] == [0]


async def test_bybit_ticker_stream_follows_price_changes(pro_bybit, sim):
    assert (await _soon(pro_bybit.watch_ticker(BTC)))["last"] == 60000
    ticker = await _started(pro_bybit.watch_ticker(BTC))
    sim.control.set_price("BTCUSDT", "60500.3")
    assert (await _soon(ticker))["last"] == 60500.3


async def test_binance_mark_price_stream_follows_price_changes(pro_binance, sim):
    assert (await _soon(pro_binance.watch_mark_price(BTC)))["markPrice"] == 60000
    mark = await _started(pro_binance.watch_mark_price(BTC))
    sim.control.set_price("BTCUSDT", "59000")
    assert (await _soon(mark))["markPrice"] == 59000


async def test_server_side_disconnect_rejects_watchers_and_next_watch_reconnects(pro, sim):
    exchange, venue = pro, venue_of(pro)
    pending = await _started(exchange.watch_orders())
    assert await sim.hub.drop(venue) >= 1
    with pytest.raises(ccxt.NetworkError, match="closing code 1000"):
        await _soon(pending)
    again = await _started(exchange.watch_orders())
    assert sim.hub.of(venue), "the next watch reconnects"
    await exchange.create_order(BTC, "market", "buy", 0.001)
    assert (await _soon(again))[-1]["amount"] == 0.001


async def test_abrupt_disconnect_also_surfaces_as_network_error(pro_bybit, sim):
    pending = await _started(pro_bybit.watch_positions())
    pending.cancel()
    pending = await _started(pro_bybit.watch_orders())
    await sim.control.drop_websockets("bybit", abrupt=True)
    with pytest.raises(ccxt.NetworkError):
        await _soon(pending)


async def test_bybit_private_ws_with_a_bad_secret_fails_authentication(sim):
    import ccxt.pro

    from warden.sim import make_exchange

    exchange = make_exchange(ccxt.pro, "bybit", sim, secret="wrong")
    try:
        await exchange.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            await _soon(exchange.watch_orders())
    finally:
        await exchange.close()
