"""Bybit v5 position and account endpoints: the position list, trading-stop, leverage, the
position mode (switch-mode) and the wallet.

Docs: https://bybit-exchange.github.io/docs/v5/position (list: with `symbol` every position of the
symbol's mode, flat ones included, so a hedge-mode symbol answers two rows with positionIdx 1
and 2; that is how a client reads the mode), .../position/trading-stop, .../position/leverage,
.../position/position-mode (`mode` 0 one-way, 3 hedge; 110025 not modified, 110024 a position
exists, 110028 open orders exist), .../account/wallet-balance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import bybit_shapes as shapes
from .book import Account, Position
from .bybit import BybitError, dec, given, position_idx, required, route, stop_fault
from .matching import bankruptcy_price, liquidation_price

if TYPE_CHECKING:
    from .server import Simulator


def render_position(sim: Simulator, p: Position) -> dict[str, Any]:
    inst = sim.feed.instruments[p.symbol]
    liq = None
    if sim.engine.liquidation and p.qty:
        price = liquidation_price(inst, p)
        liq = (price, bankruptcy_price(inst, p)) if price is not None else None
    return shapes.position(p, sim.feed.price(p.symbol), inst, liq)


@route(private=True)
def position_list(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    rows = []
    if params.get("category", "linear") == "linear":
        symbol = given(params, "symbol")
        if symbol:
            sim.engine.instrument(symbol)
            positions = account.positions_of(symbol)
        else:
            positions = [p for p in account.positions.values() if p.qty]
        rows = [render_position(sim, p) for p in positions]
    return {"category": params.get("category", "linear"), "nextPageCursor": "", "list": rows}


@route(private=True)
def trading_stop(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    symbol = str(params.get("symbol", ""))
    stop_loss = dec(params, "stopLoss")
    trailing = dec(params, "trailingStop")
    if stop_loss is not None or trailing is not None:
        stop_fault(sim, "/v5/position/trading-stop")
    if stop_loss is None and trailing is None and dec(params, "takeProfit") is None:
        raise BybitError(10001, "params error: stopLoss, takeProfit or trailingStop required")
    sim.engine.set_position_stop(account, symbol, stop_loss, trailing, dec(params, "activePrice"),
                                 idx=position_idx(params))
    return {}


@route(private=True)
def set_leverage(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    buy = required(params, "buyLeverage")
    if buy != required(params, "sellLeverage") or buy != int(buy):
        raise BybitError(10001, "buy leverage must equal sell leverage in one-way mode")
    sim.engine.set_leverage(account, str(params.get("symbol", "")), int(buy),
                            reject_unchanged=True)
    return {}


@route(private=True)
def switch_mode(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    mode = str(params.get("mode", ""))
    if mode not in ("0", "3"):
        raise BybitError(10001, "params error: mode invalid")
    symbol, coin = given(params, "symbol"), given(params, "coin")
    if symbol is None and coin is None:
        raise BybitError(10001, "params error: symbol or coin is required")
    symbols = [symbol] if symbol else [s for s, i in sim.feed.instruments.items()
                                       if i.quote == coin]
    if not symbols:
        raise BybitError(10001, "params error: coin invalid")
    sim.engine.set_position_mode(account, mode == "3", symbols)
    return {}


@route(private=True)
def wallet_balance(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {"list": [shapes.wallet(account, sim.engine.unrealized(account))]}


def setup(app: web.Application) -> None:
    app.router.add_get("/v5/position/list", position_list)
    app.router.add_post("/v5/position/trading-stop", trading_stop)
    app.router.add_post("/v5/position/set-leverage", set_leverage)
    app.router.add_post("/v5/position/switch-mode", switch_mode)
    app.router.add_get("/v5/account/wallet-balance", wallet_balance)
