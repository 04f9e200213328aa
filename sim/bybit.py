"""Bybit v5 (linear) REST surface of the simulator.

Verifies `X-BAPI-*` HMAC signatures and the timestamp/recv-window the way Bybit does, answers every
path ccxt uses (see the reference's Bybit table) with the v5 envelope, and maps engine rejections
to Bybit's retCodes. Always HTTP 200 except for injected HTTP faults, like the real venue.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import bybit_shapes as shapes
from .book import Account, Order, OrderStatus, Reason, Rejected, Side, Trigger
from .faults import FaultKind
from .hub import BODY, RECORD, SIM, compact
from .market import decimal_param

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "bybit"


class BybitError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def envelope(code: int, msg: str, result: Any) -> web.Response:
    return web.json_response({"retCode": code, "retMsg": msg, "result": result,
                              "retExtInfo": {}, "time": int(time.time() * 1000)}, dumps=compact)


def rate_limited() -> web.Response:
    return envelope(10006, "Too many visits!", {})


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM]


def authenticate(request: web.Request) -> Account:
    sim = _sim(request)
    key = request.headers.get("X-BAPI-API-KEY", "")
    account = sim.engine.account_by_key(VENUE, key)
    if account is None:
        raise BybitError(10003, "API key is invalid.")
    stamp = request.headers.get("X-BAPI-TIMESTAMP", "")
    window = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
    now = sim.auth_clock.now_ms()
    try:
        ts, recv = int(stamp), int(window)
    except ValueError:
        raise BybitError(10002, "invalid request, please check your timestamp") from None
    if not (now - recv <= ts < now + 1000):
        raise BybitError(10002, "invalid request, please check your server timestamp or "
                                f"recv_window param. req_timestamp[{ts}],server_timestamp[{now}],"
                                f"recv_window[{recv}]")
    payload = request[BODY] if request.method == "POST" else request.query_string
    origin = f"{stamp}{key}{window}{payload}"
    expected = hmac.new(account.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-BAPI-SIGN", "")):
        raise BybitError(10004, f"error sign! origin_string[{origin}]")
    return account


def _params(request: web.Request) -> dict[str, Any]:
    return dict(request[RECORD].params)


def _dec(params: dict[str, Any], name: str) -> Decimal | None:
    return decimal_param(params, name, lambda n: BybitError(10001, f"params error: {n} invalid"))


def _req(params: dict[str, Any], name: str) -> Decimal:
    value = _dec(params, name)
    if value is None:
        raise BybitError(10001, f"params error: {name} is required")
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def route(private: bool):
    """Wrap a handler: auth, then turn BybitError/Rejected into the v5 error envelope."""
    def wrap(fn):
        async def handler(request: web.Request) -> web.Response:
            record = request[RECORD]
            try:
                account = authenticate(request) if private else None
                result = fn(_sim(request), account, _params(request))
            except BybitError as err:
                record.code = err.code
                return envelope(err.code, err.message, {})
            except Rejected as rej:
                code, msg = shapes.error_for(rej.reason, rej.detail, rej.context)
                record.code = code
                return envelope(code, msg, {})
            record.code = 0
            return envelope(0, "OK", result)
        return handler
    return wrap


# -- public --------------------------------------------------------------------------------------
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


@route(private=False)
def tickers(sim: Simulator, _: Account | None, params: dict[str, Any]) -> dict[str, Any]:
    items = [shapes.ticker(i, sim.feed.price(s)) for s, i in sim.feed.instruments.items()
             if params.get("symbol") in (None, s)]
    return {"category": "linear", "list": items}


# -- orders --------------------------------------------------------------------------------------
def _stop_fault(sim: Simulator, path: str) -> None:
    fault = sim.faults.take(FaultKind.REJECT_STOP, VENUE, path)
    if fault is not None:
        raise BybitError(fault.code or 10001,
                         fault.message or "price must be greater than minimum price precision")


@route(private=True)
def order_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    symbol = str(params.get("symbol", ""))
    side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(str(params.get("side")))
    if side is None:
        raise BybitError(10001, "params error: side invalid")
    if params.get("orderType") != "Market":
        raise BybitError(10001, "params error: the simulator only accepts Market orders")
    qty = _req(params, "qty")
    trigger_price = _dec(params, "triggerPrice")
    reduce_only = _truthy(params.get("reduceOnly")) or _truthy(params.get("closeOnTrigger"))
    link = str(params.get("orderLinkId", ""))
    engine = sim.engine
    if trigger_price is None:
        order = engine.place_market(account, symbol, side, qty, reduce_only, link)
        stop_loss = _dec(params, "stopLoss")
        if stop_loss is not None and account.position(symbol).qty:
            engine.set_position_stop(account, symbol, stop_loss)
        return {"orderId": shapes.order_id(order), "orderLinkId": link}
    try:
        trigger = Trigger(int(params.get("triggerDirection", 0)))
    except ValueError:
        raise BybitError(10001, "TriggerDirection invalid") from None
    if reduce_only:
        _stop_fault(sim, "/v5/order/create")
    order = engine.place_trigger(account, symbol, side, qty, trigger_price, trigger,
                                 reduce_only=reduce_only, client_id=link)
    return {"orderId": shapes.order_id(order), "orderLinkId": link}


def _find_order(account: Account, params: dict[str, Any]) -> Order:
    number = shapes.parse_order_id(str(params.get("orderId", "")))
    link = params.get("orderLinkId")
    for order in account.orders.values():
        if order.id == number or (link and order.client_id == link):
            return order
    raise Rejected(Reason.ORDER_NOT_FOUND, str(params.get("orderId")))


@route(private=True)
def order_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = _find_order(account, params)
    sim.engine.cancel(account, order.id)
    return {"orderId": shapes.order_id(order), "orderLinkId": order.client_id}


def _stale(sim: Simulator, order: Order, path: str) -> bool:
    fault = sim.faults.peek(FaultKind.STALE_FILL, VENUE, path)
    return (fault is not None and order.status is OrderStatus.FILLED
            and sim.clock.now_ms() - order.updated_ms < fault.seconds * 1000)


def _orders(sim: Simulator, account: Account, params: dict[str, Any], path: str,
            open_only: bool) -> dict[str, Any]:
    wanted = shapes.parse_order_id(str(params.get("orderId", "")))
    link = params.get("orderLinkId") or None
    status = params.get("orderStatus")
    flt = params.get("orderFilter")
    rows = []
    for o in sorted(account.orders.values(), key=lambda o: -o.id):
        if params.get("symbol") not in (None, "", o.symbol):
            continue
        if (wanted is not None and o.id != wanted) or (link and o.client_id != link):
            continue
        by_id = wanted is not None or link is not None
        if open_only and not by_id and not o.status.is_open:
            continue
        if not open_only and o.status.is_open:
            continue
        if status and shapes.STATUS[o.status] != status:
            continue
        if o.is_trigger if flt == "Order" else (flt is not None and not o.is_trigger):
            continue
        rows.append(shapes.order(o, stale=_stale(sim, o, path)))
    return {"category": "linear", "nextPageCursor": "", "list": rows[: int(params.get("limit", 50))]}


@route(private=True)
def order_realtime(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return _orders(sim, account, params, "/v5/order/realtime", open_only=True)


@route(private=True)
def order_history(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return _orders(sim, account, params, "/v5/order/history", open_only=False)


@route(private=True)
def execution_list(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    stale = sim.faults.peek(FaultKind.STALE_FILL, VENUE, "/v5/execution/list")
    horizon = sim.clock.now_ms() - (stale.seconds * 1000 if stale else 0)
    wanted = shapes.parse_order_id(str(params.get("orderId", "")))
    rows = [shapes.execution(f, account.orders.get(f.order_id)) for f in reversed(account.fills)
            if params.get("symbol") in (None, "", f.symbol)
            and wanted in (None, f.order_id) and (stale is None or f.time_ms < horizon)]
    return {"category": "linear", "nextPageCursor": "", "list": rows[: int(params.get("limit", 50))]}


# -- positions and account -----------------------------------------------------------------------
@route(private=True)
def position_list(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    rows = []
    if params.get("category", "linear") == "linear":
        symbol = params.get("symbol")
        if symbol:
            sim.engine.instrument(symbol)
            positions = [account.position(symbol)]
        else:
            positions = [p for p in account.positions.values() if p.qty]
        rows = [shapes.position(p, sim.feed.price(p.symbol)) for p in positions]
    return {"category": params.get("category", "linear"), "nextPageCursor": "", "list": rows}


@route(private=True)
def trading_stop(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    symbol = str(params.get("symbol", ""))
    stop_loss = _dec(params, "stopLoss")
    trailing = _dec(params, "trailingStop")
    if stop_loss is not None or trailing is not None:
        _stop_fault(sim, "/v5/position/trading-stop")
    if stop_loss is None and trailing is None and _dec(params, "takeProfit") is None:
        raise BybitError(10001, "params error: stopLoss, takeProfit or trailingStop required")
    sim.engine.set_position_stop(account, symbol, stop_loss, trailing, _dec(params, "activePrice"))
    return {}


@route(private=True)
def set_leverage(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    buy = _req(params, "buyLeverage")
    if buy != _req(params, "sellLeverage") or buy != int(buy):
        raise BybitError(10001, "buy leverage must equal sell leverage in one-way mode")
    sim.engine.set_leverage(account, str(params.get("symbol", "")), int(buy),
                            reject_unchanged=True)
    return {}


@route(private=True)
def wallet_balance(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {"list": [shapes.wallet(account, sim.engine.unrealized(account))]}


def setup(app: web.Application, sim: Simulator) -> None:
    app[SIM] = sim
    app.router.add_get("/v5/market/time", market_time)
    app.router.add_get("/v5/market/instruments-info", instruments_info)
    app.router.add_get("/v5/market/tickers", tickers)
    app.router.add_post("/v5/order/create", order_create)
    app.router.add_post("/v5/order/cancel", order_cancel)
    app.router.add_get("/v5/order/realtime", order_realtime)
    app.router.add_get("/v5/order/history", order_history)
    app.router.add_get("/v5/execution/list", execution_list)
    app.router.add_get("/v5/position/list", position_list)
    app.router.add_post("/v5/position/trading-stop", trading_stop)
    app.router.add_post("/v5/position/set-leverage", set_leverage)
    app.router.add_get("/v5/account/wallet-balance", wallet_balance)
