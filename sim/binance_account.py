"""Binance USD-M REST, account side: positions, balances, leverage and symbol config, the position
mode, trades and the listenKey lifecycle of the user data stream.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/
Position-Information-V3, Account-Information-V3, Futures-Account-Balance-V3, Notional-and-
Leverage-Brackets, Symbol-Config (`[{"symbol","marginType","isAutoAddMargin","leverage",
"maxNotionalValue"}]`, what ccxt's fetch_leverage reads), Get-Current-Position-Mode
(`{"dualSidePosition": bool}`), .../trade/rest-api/Change-Position-Mode (`{"code":200,
"msg":"success"}`; -4059 no change, -4068 a position exists, -4067 open orders exist),
Account-Trade-List, .../user-data-streams/Start-User-Data-Stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .binance import VENUE, BinanceError, long_param, missing, route
from .binance_market import symbols
from .book import Account, Position
from .faults import FaultKind
from .matching import liquidation_price

if TYPE_CHECKING:
    from .server import Simulator


def render_position(sim: Simulator, p: Position) -> dict[str, Any]:
    inst = sim.feed.instruments[p.symbol]
    liq = liquidation_price(inst, p) if sim.engine.liquidation else None
    return shapes.position_risk(p, sim.feed.price(p.symbol), inst, liq)


@route("signed")
def position_risk(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    return [render_position(sim, p) for p in account.positions.values()
            if p.qty and params.get("symbol") in (None, p.symbol)]


@route("signed")
def leverage_bracket(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    return [shapes.leverage_bracket(sim.feed.instruments[s]) for s in symbols(sim, params)]


@route("signed")
def account_info(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return shapes.account(account, sim.engine.unrealized(account), sim.clock.now_ms())


@route("signed")
def balance(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    asset = shapes.account(account, sim.engine.unrealized(account), sim.clock.now_ms())["assets"][0]
    return [{"accountAlias": "SgsR", "asset": asset["asset"], "balance": asset["walletBalance"],
             "crossWalletBalance": asset["crossWalletBalance"], "crossUnPnl": asset["crossUnPnl"],
             "availableBalance": asset["availableBalance"],
             "maxWithdrawAmount": asset["maxWithdrawAmount"], "marginAvailable": True,
             "updateTime": asset["updateTime"]}]


@route("signed")
def set_leverage(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    try:
        leverage = int(str(params.get("leverage", "")))
    except ValueError:
        raise missing("leverage") from None
    symbol = str(params.get("symbol", ""))
    sim.engine.set_leverage(account, symbol, leverage)
    return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}


@route("signed")
def symbol_config(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    return [{"symbol": s, "marginType": "CROSSED", "isAutoAddMargin": "false",
             "leverage": account.positions_of(s)[0].leverage, "maxNotionalValue": "1000000"}
            for s in symbols(sim, params)]


@route("signed")
def dual_side(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {"dualSidePosition": bool(account.hedge)}


@route("signed")
def set_dual_side(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    raw = str(params.get("dualSidePosition", "")).lower()
    if raw not in ("true", "false"):
        raise missing("dualSidePosition")
    # the mode is account-wide on Binance: every symbol switches together
    sim.engine.set_position_mode(account, raw == "true", list(sim.feed.instruments))
    return {"code": 200, "msg": "success"}


@route("signed")
def user_trades(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    stale = sim.faults.peek(FaultKind.STALE_FILL, VENUE, "/fapi/v1/userTrades")
    horizon = sim.clock.now_ms() - (stale.seconds * 1000 if stale else 0)
    wanted = long_param(params, "orderId")
    rows = [shapes.user_trade(f, account.orders.get(f.order_id)) for f in account.fills
            if params.get("symbol") in (None, f.symbol) and wanted in (None, f.order_id)
            and (stale is None or f.time_ms < horizon)]
    limit = long_param(params, "limit") or 500
    return rows[-min(limit, 1000):]


@route("key")
def listen_key_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {"listenKey": sim.binance.listen_keys.create(account)}


@route("key")
def listen_key_keepalive(sim: Simulator, account: Account, params: dict[str, Any]) -> Any:
    key = sim.binance.listen_keys.keepalive(account)
    if key is None:
        raise BinanceError(400, -1125, "This listenKey does not exist.")
    return {"listenKey": key}


@route("key")
def listen_key_delete(sim: Simulator, account: Account, params: dict[str, Any]) -> Any:
    sim.binance.listen_keys.delete(account)
    return {}


def setup(app: web.Application) -> None:
    get, post = app.router.add_get, app.router.add_post
    for version in ("v2", "v3"):
        get(f"/fapi/{version}/positionRisk", position_risk)
        get(f"/fapi/{version}/account", account_info)
        get(f"/fapi/{version}/balance", balance)
    get("/fapi/v1/leverageBracket", leverage_bracket)
    post("/fapi/v1/leverage", set_leverage)
    get("/fapi/v1/symbolConfig", symbol_config)
    get("/fapi/v1/positionSide/dual", dual_side)
    post("/fapi/v1/positionSide/dual", set_dual_side)
    get("/fapi/v1/userTrades", user_trades)
    post("/fapi/v1/listenKey", listen_key_create)
    app.router.add_put("/fapi/v1/listenKey", listen_key_keepalive)
    app.router.add_delete("/fapi/v1/listenKey", listen_key_delete)
