"""Bybit v5 order endpoints: create (market, limit, conditional), amend, cancel, cancel-all, the
open/closed order lists and the execution list.

Docs: https://bybit-exchange.github.io/docs/v5/order/create-order, .../order/amend-order,
.../order/cancel-order, .../order/cancel-all, .../order/open-order, .../order/order-list,
.../order/execution. An order id that is not one of ours (unknown or not even a UUID) finds
nothing on every path: the lists answer an empty `list`, cancel and amend answer 110001.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import bybit_shapes as shapes
from .book import Account, Order, OrderKind, OrderStatus, Reason, Rejected, Trigger
from .bybit import (
    SIDES,
    VENUE,
    BybitError,
    dec,
    given,
    limit_of,
    order_number,
    position_idx,
    required,
    route,
    stop_fault,
    truthy,
)
from .faults import FaultKind

if TYPE_CHECKING:
    from .server import Simulator

ALL_KINDS = frozenset(OrderKind)
FILTERS = {"Order": frozenset({OrderKind.PLAIN}),
           "StopOrder": frozenset({OrderKind.CONDITIONAL, OrderKind.POSITION_SL})}


@route(private=True)
def order_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    symbol = str(params.get("symbol", ""))
    side = SIDES.get(str(params.get("side")))
    if side is None:
        raise BybitError(10001, "params error: side invalid")
    kind = params.get("orderType")
    if kind not in ("Market", "Limit"):
        raise BybitError(10001, "params error: orderType invalid")
    qty = required(params, "qty")
    idx = position_idx(params)
    trigger_price = dec(params, "triggerPrice")
    reduce_only = truthy(params.get("reduceOnly")) or truthy(params.get("closeOnTrigger"))
    link = str(params.get("orderLinkId", ""))
    engine = sim.engine
    if trigger_price is not None:
        if kind != "Market":
            raise BybitError(10001, "params error: the simulator's conditional orders are Market")
        return _conditional(sim, account, params, symbol, side, qty, trigger_price,
                            reduce_only, link, idx)
    with engine.commands.batch():      # the attached stop lands in the same request
        if kind == "Market":
            order = engine.place_market(account, symbol, side, qty, reduce_only, link, idx)
        else:
            tif = shapes.TIME_IN_FORCE.get(str(params.get("timeInForce") or "GTC"))
            if tif is None:
                raise BybitError(10001, "params error: timeInForce invalid")
            order = engine.place_limit(account, symbol, side, qty, required(params, "price"),
                                       tif, reduce_only=reduce_only, client_id=link,
                                       position_idx=idx)
        stop_loss = dec(params, "stopLoss")
        if stop_loss is not None and account.position(symbol, idx).qty:
            engine.set_position_stop(account, symbol, stop_loss, idx=idx)
    return {"orderId": shapes.order_id(order), "orderLinkId": link}


def _conditional(sim: Simulator, account: Account, params: dict[str, Any], symbol: str,
                 side: Any, qty: Any, trigger_price: Any, reduce_only: bool, link: str,
                 idx: int) -> dict[str, Any]:
    try:
        trigger = Trigger(int(params.get("triggerDirection", 0)))
    except ValueError:
        raise BybitError(10001, "TriggerDirection invalid") from None
    if reduce_only:
        stop_fault(sim, "/v5/order/create")
    order = sim.engine.place_trigger(account, symbol, side, qty, trigger_price, trigger,
                                     reduce_only=reduce_only, client_id=link, position_idx=idx)
    return {"orderId": shapes.order_id(order), "orderLinkId": link}


def find_order(account: Account, params: dict[str, Any]) -> Order:
    """The order named by `orderId` or `orderLinkId`; 110001 when there is none."""
    number = order_number(given(params, "orderId") or "")
    link = given(params, "orderLinkId")
    for order in account.orders.values():
        if (number is not None and order.id == number) or (link and order.client_id == link):
            return order
    raise Rejected(Reason.ORDER_NOT_FOUND, str(params.get("orderId") or link))


@route(private=True)
def order_amend(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = find_order(account, params)
    sim.engine.amend(account, order.id, qty=dec(params, "qty"), price=dec(params, "price"),
                     trigger_price=dec(params, "triggerPrice"))
    return {"orderId": shapes.order_id(order), "orderLinkId": order.client_id}


@route(private=True)
def order_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = find_order(account, params)
    sim.engine.cancel(account, order.id)
    return {"orderId": shapes.order_id(order), "orderLinkId": order.client_id}


@route(private=True)
def order_cancel_all(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    symbol, base = given(params, "symbol"), given(params, "baseCoin")
    if symbol is None and base is None and given(params, "settleCoin") is None:
        raise BybitError(10001, "params error: symbol, baseCoin or settleCoin is required")
    kinds = FILTERS.get(given(params, "orderFilter") or "", ALL_KINDS)
    if given(params, "stopOrderType") == "Stop":
        kinds = frozenset({OrderKind.CONDITIONAL})
    symbols = [s for s, i in sim.feed.instruments.items()
               if symbol in (None, s) and base in (None, i.base)]
    cancelled = []
    with sim.engine.commands.batch():
        for name in symbols:
            cancelled += sim.engine.cancel_all(account, name, kinds)
    return {"list": [{"orderId": shapes.order_id(o), "orderLinkId": o.client_id}
                     for o in cancelled], "success": "1"}


def _stale(sim: Simulator, order: Order, path: str) -> bool:
    fault = sim.faults.peek(FaultKind.STALE_FILL, VENUE, path)
    return (fault is not None and order.status is OrderStatus.FILLED
            and sim.clock.now_ms() - order.updated_ms < fault.seconds * 1000)


def _wanted(params: dict[str, Any]) -> tuple[bool, int | None, str | None]:
    """(asked for an id, its engine number or None if not one of ours, the orderLinkId)."""
    raw = given(params, "orderId")
    return raw is not None, order_number(raw or ""), given(params, "orderLinkId")


def _orders(sim: Simulator, account: Account, params: dict[str, Any], path: str,
            open_only: bool) -> dict[str, Any]:
    by_id, wanted, link = _wanted(params)
    status, flt = params.get("orderStatus"), params.get("orderFilter")
    rows = []
    for o in sorted(account.orders.values(), key=lambda o: -o.id):
        if params.get("symbol") not in (None, "", o.symbol):
            continue
        if (by_id and o.id != wanted) or (link and o.client_id != link):
            continue
        if open_only and not (by_id or link) and not o.status.is_open:
            continue
        if not open_only and o.status.is_open:
            continue
        if status and shapes.STATUS[o.status] != status:
            continue
        if o.is_trigger if flt == "Order" else (flt is not None and not o.is_trigger):
            continue
        rows.append(shapes.order(o, stale=_stale(sim, o, path)))
    return {"category": "linear", "nextPageCursor": "", "list": rows[: limit_of(params, 50)]}


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
    by_id, wanted, link = _wanted(params)
    exec_type = given(params, "execType")
    rows = []
    for fill in reversed(account.fills):
        order = account.orders.get(fill.order_id)
        if params.get("symbol") not in (None, "", fill.symbol) or (by_id and wanted != fill.order_id):
            continue
        if link and (order is None or order.client_id != link):
            continue
        if stale is not None and fill.time_ms >= horizon:
            continue
        row = shapes.execution(fill, order)
        if exec_type in (None, row["execType"]):
            rows.append(row)
    return {"category": "linear", "nextPageCursor": "", "list": rows[: limit_of(params, 50)]}


def setup(app: web.Application) -> None:
    app.router.add_post("/v5/order/create", order_create)
    app.router.add_post("/v5/order/amend", order_amend)
    app.router.add_post("/v5/order/cancel", order_cancel)
    app.router.add_post("/v5/order/cancel-all", order_cancel_all)
    app.router.add_get("/v5/order/realtime", order_realtime)
    app.router.add_get("/v5/order/history", order_history)
    app.router.add_get("/v5/execution/list", execution_list)
