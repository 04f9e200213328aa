"""Bybit v5 public market data: server time, instruments, tickers, the order book and klines.

Shapes: https://bybit-exchange.github.io/docs/v5/market/tickers, .../market/orderbook,
.../market/kline (`list` newest first, each `[startTime, open, high, low, close, volume,
turnover]`). The book is the simulator's synthetic top of book (`depth.TopOfBook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import bybit_shapes as shapes
from .book import Account, Side
from .bybit import BybitError, given, integer, limit_of, route
from .candles import BYBIT_INTERVALS, MINUTE, candles

if TYPE_CHECKING:
    from .server import Simulator


@route(private=False)
def market_time(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    now = sim.auth_clock.now_ms()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


@route(private=False)
def instruments_info(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    items = []
    if params.get("category", "linear") == "linear" and params.get("status") in (None, "Trading"):
        launch = sim.clock.now_ms() - 86_400_000
        items = [shapes.instrument(i, launch) for i in sim.feed.instruments.values()
                 if params.get("symbol") in (None, i.symbol)]
    return {"category": params.get("category", "linear"), "nextPageCursor": "", "list": items}


def top(sim: Simulator, symbol: str) -> tuple[Any, Any]:
    """Best bid and best ask of the symbol, each as (price, size)."""
    inst, mark = sim.feed.instruments[symbol], sim.feed.price(symbol)
    return (sim.engine.book.levels(inst, mark, Side.SELL, 1)[0],
            sim.engine.book.levels(inst, mark, Side.BUY, 1)[0])


@route(private=False)
def tickers(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    items = [shapes.ticker(i, sim.feed.price(s), *top(sim, s))
             for s, i in sim.feed.instruments.items() if params.get("symbol") in (None, s)]
    return {"category": "linear", "list": items}


def _symbol(sim: Simulator, params: dict[str, Any]) -> str:
    symbol = given(params, "symbol")
    if symbol is None:
        raise BybitError(10001, "params error: symbol is required")
    if symbol not in sim.feed.instruments:
        raise BybitError(10001, "params error: symbol invalid")
    return symbol


@route(private=False)
def orderbook(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    symbol = _symbol(sim, params)
    count = limit_of(params, 25)
    inst, mark = sim.feed.instruments[symbol], sim.feed.price(symbol)
    book = sim.engine.book
    return shapes.order_book(symbol, book.levels(inst, mark, Side.SELL, count),
                             book.levels(inst, mark, Side.BUY, count), sim.clock.now_ms(),
                             len(sim.feed.history[symbol]))


@route(private=False)
def kline(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    symbol = _symbol(sim, params)
    minutes = BYBIT_INTERVALS.get(str(params.get("interval", "")))
    if minutes is None:
        raise BybitError(10001, "params error: interval invalid")
    rows = candles(list(sim.feed.history[symbol]), sim.engine.tape[symbol], minutes * MINUTE,
                   sim.clock.now_ms(),
                   integer(params, "start"), integer(params, "end"), limit_of(params, 200))
    return {"category": "linear", "symbol": symbol,
            "list": [shapes.kline(c) for c in reversed(rows)]}


def setup(app: web.Application) -> None:
    app.router.add_get("/v5/market/time", market_time)
    app.router.add_get("/v5/market/instruments-info", instruments_info)
    app.router.add_get("/v5/market/tickers", tickers)
    app.router.add_get("/v5/market/orderbook", orderbook)
    app.router.add_get("/v5/market/kline", kline)
