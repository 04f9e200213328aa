"""Binance USD-M REST surface of the simulator.

Checks `X-MBX-APIKEY`, the HMAC `signature` over the exact query string or form body, and the
timestamp/recvWindow, with Binance's codes (-2014/-2015, -1102, -1021, -1022). Conditional orders
go through the algo-order API (`/fapi/v1/algoOrder`); `/fapi/v1/order` only takes MARKET, like
the real venue after 2025-12-09. Errors are 4xx with `{"code", "msg"}`.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .book import Account, Order, OrderKind, OrderStatus, Reason, Rejected, Side, Trigger
from .faults import FaultKind
from .hub import BODY, RECORD, SIM, compact
from .market import decimal_param

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "binance"
ALGO_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}


class BinanceError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def rate_limited() -> web.Response:
    return web.json_response({"code": -1003, "msg": "Too many requests; current limit of IP is "
                              "2400 requests per minute. Please use the websocket for live "
                              "updates to avoid polling the API."}, status=429, dumps=compact)


def authenticate(request: web.Request, signed: bool) -> Account:
    sim: Simulator = request.app[SIM]
    key = request.headers.get("X-MBX-APIKEY", "")
    if not key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    account = sim.engine.account_by_key(VENUE, key)
    if account is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    if not signed:
        return account
    parts = (request.query_string + request[BODY]).split("&")
    signature = next((p[10:] for p in parts if p.startswith("signature=")), "")
    unsigned = "&".join(p for p in parts if not p.startswith("signature="))
    params = request[RECORD].params
    try:
        stamp, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
    except (KeyError, ValueError):
        raise BinanceError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was "
                                       "empty/null, or malformed.") from None
    now = sim.auth_clock.now_ms()
    if stamp - now > 1000:
        raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the "
                                       "server's time.")
    if now - stamp > window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    expected = hmac.new(account.secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    return account


def route(auth: str | None):
    """`auth`: None (public), "key" (API key only, like listenKey) or "signed"."""
    def wrap(fn):
        async def handler(request: web.Request) -> web.Response:
            record = request[RECORD]
            sim: Simulator = request.app[SIM]
            try:
                account = authenticate(request, auth == "signed") if auth else None
                result = fn(sim, account, dict(record.params))
            except BinanceError as err:
                record.code = err.code
                return web.json_response({"code": err.code, "msg": err.message},
                                         status=err.status, dumps=compact)
            except Rejected as rej:
                status, code, msg = shapes.error_for(rej.reason, rej.detail, rej.context)
                record.code = code
                return web.json_response({"code": code, "msg": msg}, status=status,
                                         dumps=compact)
            return web.json_response(result, dumps=compact)
        return handler
    return wrap


def _dec(params: dict[str, Any], name: str) -> Decimal | None:
    return decimal_param(params, name, lambda n: BinanceError(
        400, -1100, f"Illegal characters found in parameter '{n}'."))


def _side(params: dict[str, Any]) -> Side:
    try:
        return Side(str(params.get("side", "")).lower())
    except ValueError:
        raise BinanceError(400, -1102, "Mandatory parameter 'side' was not sent.") from None


def _true(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() == "true"


def _stale(sim: Simulator, o: Order, path: str) -> bool:
    fault = sim.faults.peek(FaultKind.STALE_FILL, VENUE, path)
    return (fault is not None and o.status is OrderStatus.FILLED
            and sim.clock.now_ms() - o.updated_ms < fault.seconds * 1000)


def _lookup(account: Account, params: dict[str, Any], algo: bool, code: int) -> Order:
    """A regular order (a fired algo order counts) or, with `algo`, an algo order."""
    wanted = str(params.get("algoId" if algo else "orderId", ""))
    client = params.get("clientAlgoId" if algo else "origClientOrderId")
    for o in account.orders.values():
        if str(o.id) == wanted or (client and o.client_id == client):
            regular = o.kind is OrderKind.PLAIN or o.triggered_ms is not None
            if (o.kind is OrderKind.CONDITIONAL) if algo else regular:
                return o
    raise BinanceError(400, code, "Order does not exist." if code == -2013 else
                       "Unknown order sent.")


# -- regular orders ------------------------------------------------------------------------------
@route("signed")
def order_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    kind = str(params.get("type", "")).upper()
    if kind in ALGO_TYPES:
        raise BinanceError(400, -4120, "Order type not supported for this endpoint. Please use "
                                       "the Algo Order API endpoints instead.")
    if kind != "MARKET":
        raise BinanceError(400, -1116, "Invalid orderType (the simulator fills MARKET only).")
    qty = _dec(params, "quantity")
    if qty is None:
        raise BinanceError(400, -1102, "Mandatory parameter 'quantity' was not sent.")
    order = sim.engine.place_market(account, str(params.get("symbol", "")), _side(params), qty,
                                    _true(params, "reduceOnly"),
                                    str(params.get("newClientOrderId", "")))
    if params.get("newOrderRespType", "ACK") != "RESULT":
        return {**shapes.order(order, stale=True), "status": "NEW"}
    return shapes.order(order, stale=_stale(sim, order, "/fapi/v1/order"))


@route("signed")
def order_get(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = _lookup(account, params, algo=False, code=-2013)
    return shapes.order(order, stale=_stale(sim, order, "/fapi/v1/order"))


@route("signed")
def order_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = _lookup(account, params, algo=False, code=-2011)
    if not order.status.is_open:
        raise BinanceError(400, -2011, "Unknown order sent.")
    return shapes.order(sim.engine.cancel(account, order.id))


def _regular(account: Account, params: dict[str, Any], open_only: bool) -> list[dict[str, Any]]:
    return [shapes.order(o) for o in account.orders.values()
            if (o.kind is OrderKind.PLAIN or o.triggered_ms is not None)
            and params.get("symbol") in (None, o.symbol) and (o.status.is_open or not open_only)]


@route("signed")
def open_orders(sim: Simulator, account: Account, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _regular(account, params, open_only=True)


@route("signed")
def all_orders(sim: Simulator, account: Account, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _regular(account, params, open_only=False)


# -- algo (conditional) orders -------------------------------------------------------------------
@route("signed")
def algo_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    kind = str(params.get("type", params.get("orderType", ""))).upper()
    if params.get("algoType") != "CONDITIONAL" or kind not in ("STOP_MARKET",
                                                               "TAKE_PROFIT_MARKET"):
        raise BinanceError(400, -1116, "Invalid orderType (the simulator supports STOP_MARKET "
                                       "and TAKE_PROFIT_MARKET conditional algo orders).")
    side, symbol = _side(params), str(params.get("symbol", ""))
    trigger_price = _dec(params, "triggerPrice") or _dec(params, "stopPrice")
    if trigger_price is None:
        raise BinanceError(400, -1102, "Mandatory parameter 'triggerPrice' was not sent.")
    close = _true(params, "closePosition")
    qty = _dec(params, "quantity")
    if qty is None and not close:
        raise BinanceError(400, -1102, "Mandatory parameter 'quantity' was not sent.")
    fault = sim.faults.take(FaultKind.REJECT_STOP, VENUE, "/fapi/v1/algoOrder")
    if fault is not None:
        raise BinanceError(fault.status if 400 <= fault.status < 500 else 400,
                           fault.code or -2021, fault.message or "Order would immediately trigger.")
    if close and account.position(symbol).qty == 0:
        raise Rejected(Reason.NO_POSITION, symbol)
    falls = (side is Side.SELL) == (kind == "STOP_MARKET")
    order = sim.engine.place_trigger(
        account, symbol, side, None if close else qty, trigger_price,
        Trigger.FALL if falls else Trigger.RISE, reduce_only=_true(params, "reduceOnly") or close,
        close_position=close, client_id=str(params.get("clientAlgoId", "")),
        order_type=kind.lower())
    return shapes.algo_order(order)


@route("signed")
def algo_get(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return shapes.algo_order(_lookup(account, params, algo=True, code=-2013))


@route("signed")
def algo_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = _lookup(account, params, algo=True, code=-2011)
    if not order.status.is_open:
        raise BinanceError(400, -2011, "Unknown order sent.")
    sim.engine.cancel(account, order.id)
    return {"algoId": order.id, "clientAlgoId": order.client_id, "code": "200", "msg": "success"}


def _algos(account: Account, params: dict[str, Any], open_only: bool) -> list[dict[str, Any]]:
    return [shapes.algo_order(o) for o in account.orders.values()
            if o.kind is OrderKind.CONDITIONAL and params.get("symbol") in (None, o.symbol)
            and (o.status.is_open or not open_only)]


@route("signed")
def open_algos(sim: Simulator, account: Account, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _algos(account, params, open_only=True)


@route("signed")
def all_algos(sim: Simulator, account: Account, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _algos(account, params, open_only=False)


def setup(app: web.Application, sim: Simulator) -> None:
    app.router.add_post("/fapi/v1/order", order_create)
    app.router.add_get("/fapi/v1/order", order_get)
    app.router.add_delete("/fapi/v1/order", order_cancel)
    app.router.add_get("/fapi/v1/openOrders", open_orders)
    app.router.add_get("/fapi/v1/allOrders", all_orders)
    app.router.add_post("/fapi/v1/algoOrder", algo_create)
    app.router.add_get("/fapi/v1/algoOrder", algo_get)
    app.router.add_delete("/fapi/v1/algoOrder", algo_cancel)
    app.router.add_get("/fapi/v1/openAlgoOrders", open_algos)
    app.router.add_get("/fapi/v1/allAlgoOrders", all_algos)
