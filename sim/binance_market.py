"""Binance USD-M public market data: time, exchange info, mark price, tickers, the order book and
klines.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/
Exchange-Information, Mark-Price, Symbol-Price-Ticker, 24hr-Ticker-Price-Change-Statistics,
Symbol-Order-Book-Ticker, Order-Book (`limit` 5/10/20/50/100/500/1000, default 500),
Kline-Candlestick-Data (rows `[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades,
takerBuyBase, takerBuyQuote, ignore]`, oldest first). An unknown symbol is -1121, an unknown
interval -1120.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .binance import BinanceError, missing, route
from .book import Account, Side
from .candles import BINANCE_INTERVALS, MINUTE, candles, day_stats
from .market import fmt, number_param

if TYPE_CHECKING:
    from .server import Simulator

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


@route(None)
def server_time(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    return {"serverTime": sim.auth_clock.now_ms()}


@route(None)
def exchange_info(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": sim.auth_clock.now_ms(), "futuresType": "U_MARGINED",
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                            "intervalNum": 1, "limit": 2400}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [shapes.symbol_info(i) for i in sim.feed.instruments.values()]}


def symbols(sim: Simulator, params: dict[str, Any]) -> list[str]:
    symbol = params.get("symbol")
    if symbol is not None and symbol not in sim.feed.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return [symbol] if symbol else list(sim.feed.instruments)


def _one_or_all(params: dict[str, Any], rows: list[Any]) -> Any:
    return rows[0] if params.get("symbol") else rows


@route(None)
def premium_index(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    now = sim.clock.now_ms()
    return _one_or_all(params, [
        {"symbol": s, "markPrice": fmt(sim.feed.price(s)), "indexPrice": fmt(sim.feed.price(s)),
         "estimatedSettlePrice": fmt(sim.feed.price(s)), "lastFundingRate": "0.00010000",
         "interestRate": "0.00010000", "nextFundingTime": now + 3_600_000, "time": now}
        for s in symbols(sim, params)])


@route(None)
def ticker_price(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    return _one_or_all(params, [{"symbol": s, "price": fmt(sim.feed.price(s)),
                                 "time": sim.clock.now_ms()} for s in symbols(sim, params)])


def ticker_24h(sim: Simulator, symbol: str) -> dict[str, Any]:
    now = sim.clock.now_ms()
    return shapes.ticker_24h(symbol, day_stats(sim.feed.history[symbol], sim.engine.tape[symbol],
                                               now), now)


@route(None)
def ticker_24hr(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    return _one_or_all(params, [ticker_24h(sim, s) for s in symbols(sim, params)])


def book_ticker(sim: Simulator, symbol: str) -> dict[str, Any]:
    inst, mark = sim.feed.instruments[symbol], sim.feed.price(symbol)
    (bid, bid_qty), = sim.engine.book.levels(inst, mark, Side.SELL, 1)
    (ask, ask_qty), = sim.engine.book.levels(inst, mark, Side.BUY, 1)
    return {"symbol": symbol, "bidPrice": fmt(bid), "bidQty": fmt(bid_qty), "askPrice": fmt(ask),
            "askQty": fmt(ask_qty), "time": sim.clock.now_ms(),
            "lastUpdateId": len(sim.feed.history[symbol])}


@route(None)
def ticker_book(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    return _one_or_all(params, [book_ticker(sim, s) for s in symbols(sim, params)])


def _int(params: dict[str, Any], name: str) -> int | None:
    return number_param(params, name, int, lambda n: BinanceError(
        400, -1100, f"Illegal characters found in parameter '{n}'."))


def _limit(params: dict[str, Any], default: int, high: int) -> int:
    value = _int(params, "limit")
    return default if value is None else max(1, min(high, value))


@route(None)
def depth(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("symbol"):
        raise missing("symbol")
    symbol = symbols(sim, params)[0]
    count = _limit(params, 500, 1000)
    if count not in DEPTH_LIMITS:
        raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'; legal "
                                       "range is '5, 10, 20, 50, 100, 500, 1000'.")
    inst, mark, now = sim.feed.instruments[symbol], sim.feed.price(symbol), sim.clock.now_ms()
    book = sim.engine.book
    return {"lastUpdateId": len(sim.feed.history[symbol]), "E": now, "T": now,
            "bids": [[fmt(p), fmt(q)] for p, q in book.levels(inst, mark, Side.SELL, count)],
            "asks": [[fmt(p), fmt(q)] for p, q in book.levels(inst, mark, Side.BUY, count)]}


@route(None)
def klines(sim: Simulator, _: Account | None, params: dict[str, Any]) -> list[Any]:
    if not params.get("symbol"):
        raise missing("symbol")
    symbol = symbols(sim, params)[0]
    minutes = BINANCE_INTERVALS.get(str(params.get("interval", "")))
    if minutes is None:
        raise BinanceError(400, -1120, "Invalid interval.")
    interval = minutes * MINUTE
    rows = candles(list(sim.feed.history[symbol]), sim.engine.tape[symbol], interval,
                   sim.clock.now_ms(), _int(params, "startTime"), _int(params, "endTime"),
                   _limit(params, 500, 1500))
    return [shapes.kline(c, interval) for c in rows]


def setup(app: web.Application) -> None:
    get = app.router.add_get
    get("/fapi/v1/time", server_time)
    get("/fapi/v1/exchangeInfo", exchange_info)
    get("/fapi/v1/premiumIndex", premium_index)
    get("/fapi/v1/ticker/price", ticker_price)
    get("/fapi/v2/ticker/price", ticker_price)
    get("/fapi/v1/ticker/24hr", ticker_24hr)
    get("/fapi/v1/ticker/bookTicker", ticker_book)
    get("/fapi/v1/depth", depth)
    get("/fapi/v1/klines", klines)
