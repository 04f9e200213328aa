"""The synthetic top of book and the market-data endpoints ccxt users call, on both venues:
order book, tickers, klines, Binance's leverage and ticker stream, Bybit's order-book stream."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from .conftest import BTC, venue_of


async def test_by_default_the_book_is_the_mark_on_both_sides(aex, sim):
    book = await aex.fetch_order_book(BTC)
    assert (book["bids"][0][0], book["asks"][0][0]) == (60000, 60000)
    order = await aex.create_order(BTC, "market", "buy", 0.5)
    trades = await aex.fetch_order_trades(order["id"], BTC) if venue_of(aex) == "bybit" else \
        await aex.fetch_my_trades(BTC)
    assert [(t["price"], t["amount"]) for t in trades] == [(60000, 0.5)]


async def test_spread_and_depth_shape_the_book_and_market_orders_walk_it(aex, sim):
    sim.control.set_book(spread_bps="2", depth="0.1", levels=5)
    book = await aex.fetch_order_book(BTC, 5 if venue_of(aex) == "binance" else None)
    assert book["bids"][:2] == [[59994, 0.1], [59993.9, 0.1]]
    assert book["asks"][:2] == [[60006, 0.1], [60006.1, 0.1]]
    assert len(book["asks"]) == 5
    order = await aex.create_order(BTC, "market", "buy", 0.25)
    trades = await aex.fetch_my_trades(BTC)
    assert [(t["price"], t["amount"]) for t in trades] == [
        (60006, 0.1), (60006.1, 0.1), (60006.2, 0.05)]
    assert {t["order"] for t in trades} == {order["id"]}
    position, = [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert position["entryPrice"] == pytest.approx((60006 + 60006.1) * 0.4 + 60006.2 * 0.2)


async def test_a_market_order_beyond_the_listed_depth_fills_the_rest_at_the_deepest_level(
        aex, sim):
    sim.control.set_book(spread_bps="0", depth="0.1", levels=2)
    await aex.create_order(BTC, "market", "sell", 0.5)
    trades = await aex.fetch_my_trades(BTC)
    assert [(t["price"], t["amount"]) for t in trades] == [(60000, 0.1), (59999.9, 0.4)]


async def test_bybit_ticker_reports_the_best_bid_and_ask(abybit, sim):
    sim.control.set_book(symbol="BTCUSDT", spread_bps="10", depth="2")
    ticker = await abybit.fetch_ticker(BTC)
    assert (ticker["bid"], ticker["ask"], ticker["last"]) == (59970, 60030, 60000)
    assert (ticker["bidVolume"], ticker["askVolume"]) == (2, 2)
    assert (await abybit.fetch_ticker("ETH/USDT:USDT"))["bid"] == 3000    # only BTC has a spread


async def test_binance_24h_ticker_follows_the_price_history(abinance, sim, manual_clock):
    sim.control.set_price("BTCUSDT", "61000")
    manual_clock.advance(60)
    sim.control.set_price("BTCUSDT", "59500")
    await abinance.create_order(BTC, "market", "buy", 0.01)
    ticker = await abinance.fetch_ticker(BTC)
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == (
        60000, 61000, 59500, 59500)
    assert ticker["baseVolume"] == 0.01
    assert ticker["percentage"] == pytest.approx(-0.833)


async def test_klines_are_built_from_the_price_path_and_the_fills(aex, sim, manual_clock):
    manual_clock.set((manual_clock.now_ms() // 60_000 + 1) * 60_000 + 20_000)  # 20 s in
    for price, wait in (("60100", 10), ("59900", 10), ("60050", 45), ("60300", 0)):
        sim.control.set_price("BTCUSDT", price)
        manual_clock.advance(wait)
    await aex.create_order(BTC, "market", "buy", 0.02)
    candles = await aex.fetch_ohlcv(BTC, "1m")
    assert [c[1:5] for c in candles[-2:]] == [[60000, 60100, 59900, 60050],
                                              [60050, 60300, 60050, 60300]]
    assert candles[-1][5] == 0.02 and candles[-2][5] == 0
    assert candles[-1][0] - candles[-2][0] == 60_000


async def test_klines_refuse_an_unknown_interval(aex):
    with pytest.raises(ccxt.BadRequest):
        if venue_of(aex) == "bybit":
            await aex.publicGetV5MarketKline({"category": "linear", "symbol": "BTCUSDT",
                                              "interval": "7"})
        else:
            await aex.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": "7m"})


async def test_binance_fetch_leverage_reads_symbol_config(abinance):
    await abinance.set_leverage(7, BTC)
    leverage = await abinance.fetch_leverage(BTC)
    assert (leverage["marginMode"], leverage["longLeverage"], leverage["shortLeverage"]) == (
        "cross", 7, 7)


async def test_binance_watch_ticker_and_bids_asks_stream(pro_binance, sim):
    sim.control.set_book(spread_bps="2")
    first = await asyncio.wait_for(pro_binance.watch_ticker(BTC), 3)
    assert first["last"] == 60000
    sim.control.set_price("BTCUSDT", "60500")
    moved = await asyncio.wait_for(pro_binance.watch_ticker(BTC), 3)
    assert (moved["last"], moved["high"]) == (60500, 60500)
    quotes = await asyncio.wait_for(pro_binance.watch_bids_asks([BTC]), 3)
    assert (quotes[BTC]["bid"], quotes[BTC]["ask"]) == (60493.9, 60506.1)


async def test_bybit_watch_order_book_gets_a_snapshot_on_every_price_change(pro_bybit, sim):
    sim.control.set_book(spread_bps="2", depth="0.3")
    book = await asyncio.wait_for(pro_bybit.watch_order_book(BTC, 50), 3)
    assert (book["bids"][0], book["asks"][0]) == ([59994, 0.3], [60006, 0.3])
    sim.control.set_price("BTCUSDT", "61000")
    book = await asyncio.wait_for(pro_bybit.watch_order_book(BTC, 50), 3)
    assert book["asks"][0][0] == 61006.1
    assert len(book["bids"]) == 20                  # the book's configured levels
