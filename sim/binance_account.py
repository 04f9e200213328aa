"""Binance USD-M REST, account side: market data, positions, balances, leverage, trades and the
listenKey lifecycle of the user data stream. Auth and error handling come from `binance.route`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .binance import VENUE, BinanceError, route
from .book import Account
from .faults import FaultKind
from .market import fmt

if TYPE_CHECKING:
    from .server import Simulator


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


def _symbols(sim: Simulator, params: dict[str, Any]) -> list[str]:
    symbol = params.get("symbol")
    if symbol is not None and symbol not in sim.feed.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return [symbol] if symbol else list(sim.feed.instruments)


@route(None)
def premium_index(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    now = sim.clock.now_ms()
    rows = [{"symbol": s, "markPrice": fmt(sim.feed.price(s)), "indexPrice": fmt(sim.feed.price(s)),
             "estimatedSettlePrice": fmt(sim.feed.price(s)), "lastFundingRate": "0.00010000",
             "interestRate": "0.00010000", "nextFundingTime": now + 3_600_000, "time": now}
            for s in _symbols(sim, params)]
    return rows[0] if params.get("symbol") else rows


@route(None)
def ticker_price(sim: Simulator, _: Account | None, params: dict[str, Any]) -> Any:
    rows = [{"symbol": s, "price": fmt(sim.feed.price(s)), "time": sim.clock.now_ms()}
            for s in _symbols(sim, params)]
    return rows[0] if params.get("symbol") else rows


@route("signed")
def position_risk(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    return [shapes.position_risk(p, sim.feed.price(p.symbol)) for p in account.positions.values()
            if p.qty and params.get("symbol") in (None, p.symbol)]


@route("signed")
def leverage_bracket(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    return [shapes.leverage_bracket(sim.feed.instruments[s]) for s in _symbols(sim, params)]


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
        raise BinanceError(400, -1102, "Mandatory parameter 'leverage' was not sent.") from None
    symbol = str(params.get("symbol", ""))
    sim.engine.set_leverage(account, symbol, leverage)
    return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}


@route("signed")
def dual_side(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {"dualSidePosition": False}


@route("signed")
def user_trades(sim: Simulator, account: Account, params: dict[str, Any]) -> list[Any]:
    stale = sim.faults.peek(FaultKind.STALE_FILL, VENUE, "/fapi/v1/userTrades")
    horizon = sim.clock.now_ms() - (stale.seconds * 1000 if stale else 0)
    rows = [shapes.user_trade(f) for f in account.fills
            if params.get("symbol") in (None, f.symbol)
            and str(params.get("orderId", f.order_id)) == str(f.order_id)
            and (stale is None or f.time_ms < horizon)]
    return rows[-int(params.get("limit", 500)):]


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


def setup(app: web.Application, sim: Simulator) -> None:
    get, post = app.router.add_get, app.router.add_post
    get("/fapi/v1/time", server_time)
    get("/fapi/v1/exchangeInfo", exchange_info)
    get("/fapi/v1/premiumIndex", premium_index)
    get("/fapi/v1/ticker/price", ticker_price)
    get("/fapi/v2/ticker/price", ticker_price)
    for version in ("v2", "v3"):
        get(f"/fapi/{version}/positionRisk", position_risk)
        get(f"/fapi/{version}/account", account_info)
        get(f"/fapi/{version}/balance", balance)
    get("/fapi/v1/leverageBracket", leverage_bracket)
    post("/fapi/v1/leverage", set_leverage)
    get("/fapi/v1/positionSide/dual", dual_side)
    get("/fapi/v1/userTrades", user_trades)
    post("/fapi/v1/listenKey", listen_key_create)
    app.router.add_put("/fapi/v1/listenKey", listen_key_keepalive)
    app.router.add_delete("/fapi/v1/listenKey", listen_key_delete)


