"""Binance USD-M regular orders: new (MARKET, LIMIT with GTC/IOC/FOK/GTX), query, cancel, modify,
cancel-all, open and all orders.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/
New-Order, Query-Order, Cancel-Order, Modify-Order (LIMIT only: -5025; nothing changed: -5027),
Cancel-All-Open-Orders, Current-All-Open-Orders, All-Orders. A GTX (post-only) order that would
take is refused with -5022, an unfillable FOK with -5021, and neither is recorded. An `orderId`
that is not 1-20 digits gets -1100 (what Binance answers for a malformed LONG), one that names no
order of ours -2013 (query) / -2011 (cancel). Stop types here get -4120: they are algo orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .binance import (
    VENUE,
    BinanceError,
    dec,
    long_param,
    missing,
    position_side,
    route,
    side_of,
    true,
)
from .book import Account, Order, OrderKind, OrderStatus, Reason, Rejected
from .faults import FaultKind

if TYPE_CHECKING:
    from .server import Simulator

ALGO_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}


def stale(sim: Simulator, o: Order, path: str) -> bool:
    fault = sim.faults.peek(FaultKind.STALE_FILL, VENUE, path)
    return (fault is not None and o.status is OrderStatus.FILLED
            and sim.clock.now_ms() - o.updated_ms < fault.seconds * 1000)


def lookup(account: Account, params: dict[str, Any], algo: bool, code: int) -> Order:
    """A regular order (a fired algo order counts) or, with `algo`, an algo order."""
    wanted = long_param(params, "algoId" if algo else "orderId")
    client = params.get("clientAlgoId" if algo else "origClientOrderId") or None
    if wanted is None and client is None:
        raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                                       "but both were empty/null!")
    for o in account.orders.values():
        if o.id == wanted or (wanted is None and o.client_id == client):
            regular = o.kind is OrderKind.PLAIN or o.triggered_ms is not None
            if (o.kind is OrderKind.CONDITIONAL) if algo else regular:
                return o
    raise BinanceError(400, code, "Order does not exist." if code == -2013 else
                       "Unknown order sent.")


@route("signed")
def order_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    kind = str(params.get("type", "")).upper()
    if kind in ALGO_TYPES:
        raise BinanceError(400, -4120, "Order type not supported for this endpoint. Please use "
                                       "the Algo Order API endpoints instead.")
    if kind not in ("MARKET", "LIMIT"):
        raise BinanceError(400, -1116, "Invalid orderType.")
    qty = dec(params, "quantity")
    if qty is None:
        raise missing("quantity")
    symbol, side, idx = str(params.get("symbol", "")), side_of(params), position_side(account,
                                                                                        params)
    client = str(params.get("newClientOrderId", ""))
    if kind == "MARKET":
        order = sim.engine.place_market(account, symbol, side, qty, true(params, "reduceOnly"),
                                        client, idx)
    else:
        price = dec(params, "price")
        if price is None:
            raise missing("price")
        tif = shapes.TIME_IN_FORCE.get(str(params.get("timeInForce", "")))
        if tif is None:
            raise missing("timeInForce")
        order = sim.engine.place_limit(account, symbol, side, qty, price, tif,
                                       reduce_only=true(params, "reduceOnly"), client_id=client,
                                       position_idx=idx, refuse_unfillable=True,
                                       price_band=shapes.PRICE_BAND)
    if params.get("newOrderRespType", "ACK") != "RESULT":
        return {**shapes.order(order, stale=True), "status": "NEW"}
    return shapes.order(order, stale=stale(sim, order, "/fapi/v1/order"))


@route("signed")
def order_get(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = lookup(account, params, algo=False, code=-2013)
    return shapes.order(order, stale=stale(sim, order, "/fapi/v1/order"))


@route("signed")
def order_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = lookup(account, params, algo=False, code=-2011)
    if not order.status.is_open:
        raise BinanceError(400, -2011, "Unknown order sent.")
    return shapes.order(sim.engine.cancel(account, order.id))


@route("signed")
def order_modify(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = lookup(account, params, algo=False, code=-2013)
    if not order.status.is_open:
        raise Rejected(Reason.ORDER_NOT_FOUND, str(order.id))
    if not order.is_limit:
        raise Rejected(Reason.AMEND_NOT_SUPPORTED, str(order.id))
    if side_of(params) is not order.side:
        raise BinanceError(400, -1102, "Parameter 'side' does not match the original order.")
    qty, price = dec(params, "quantity"), dec(params, "price")
    if qty is None:
        raise missing("quantity")
    if price is None:
        raise missing("price")
    sim.engine.amend(account, order.id, qty=qty, price=price)
    return shapes.order(order)


def cancel_all_of(kinds: frozenset[OrderKind]):
    """DELETE .../allOpenOrders (regular) or .../algoOpenOrders (conditional) for a symbol."""
    @route("signed")
    def cancel_all(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        symbol = params.get("symbol")
        if not symbol:
            raise missing("symbol")
        sim.engine.instrument(str(symbol))
        sim.engine.cancel_all(account, str(symbol), kinds)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}
    return cancel_all


def listing(render: Callable[[Order], dict[str, Any]], shown: Callable[[Order], bool],
            open_only: bool):
    """A list of the account's orders that `shown` selects (optionally of one symbol)."""
    @route("signed")
    def orders(sim: Simulator, account: Account, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [render(o) for o in account.orders.values() if shown(o)
                and params.get("symbol") in (None, o.symbol)
                and (o.status.is_open or not open_only)]
    return orders


def _regular(o: Order) -> bool:
    return o.kind is OrderKind.PLAIN or o.triggered_ms is not None


def setup(app: web.Application) -> None:
    app.router.add_post("/fapi/v1/order", order_create)
    app.router.add_get("/fapi/v1/order", order_get)
    app.router.add_delete("/fapi/v1/order", order_cancel)
    app.router.add_put("/fapi/v1/order", order_modify)
    app.router.add_delete("/fapi/v1/allOpenOrders", cancel_all_of(frozenset({OrderKind.PLAIN})))
    app.router.add_get("/fapi/v1/openOrders", listing(shapes.order, _regular, open_only=True))
    app.router.add_get("/fapi/v1/allOrders", listing(shapes.order, _regular, open_only=False))
