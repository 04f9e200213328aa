"""Binance USD-M conditional (algo) orders: new, query, cancel, cancel-all, open and all.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/
New-Algo-Order, Cancel-Algo-Order, Cancel-All-Algo-Open-Orders (`DELETE /fapi/v1/algoOpenOrders`,
answered `{"code":200,"msg":"The operation of cancel all open order is done."}` as ccxt's
`cancel_all_orders(..., {'trigger': True})` documents), Current-All-Algo-Open-Orders. Both
`quantity` + `reduceOnly` stops (several per side allowed) and `closePosition=true` stops are
taken; a second open `closePosition` order of the same type on the same side and position side is
refused with -4130, as on the venue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .binance import VENUE, BinanceError, dec, missing, position_side, route, side_of, true
from .binance_orders import cancel_all_of, listing, lookup
from .book import Account, Order, OrderKind, OrderType, Reason, Rejected, Side, Trigger
from .faults import FaultKind

if TYPE_CHECKING:
    from .server import Simulator

TYPES = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET}


def _check_one_close_per_side(account: Account, symbol: str, side: Side, kind: OrderType,
                              idx: int) -> None:
    for o in account.live.values():
        if (o.kind is OrderKind.CONDITIONAL and o.close_position and o.symbol == symbol
                and o.side is side and o.order_type is kind and o.position_idx == idx):
            raise Rejected(Reason.CLOSE_POSITION_EXISTS, str(o.id))


@route("signed")
def algo_create(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params.get("type", params.get("orderType", ""))).upper()
    kind = TYPES.get(name)
    if params.get("algoType") != "CONDITIONAL" or kind is None:
        raise BinanceError(400, -1116, "Invalid orderType (the simulator supports STOP_MARKET "
                                       "and TAKE_PROFIT_MARKET conditional algo orders).")
    side, symbol = side_of(params), str(params.get("symbol", ""))
    idx = position_side(account, params)
    trigger_price = dec(params, "triggerPrice") or dec(params, "stopPrice")
    if trigger_price is None:
        raise missing("triggerPrice")
    close = true(params, "closePosition")
    qty = dec(params, "quantity")
    if qty is None and not close:
        raise missing("quantity")
    fault = sim.faults.take(FaultKind.REJECT_STOP, VENUE, "/fapi/v1/algoOrder")
    if fault is not None:
        raise BinanceError(fault.status if 400 <= fault.status < 500 else 400,
                           fault.code or -2021, fault.message or "Order would immediately trigger.")
    if close and account.position(symbol, idx).qty == 0:
        raise Rejected(Reason.NO_POSITION, symbol)
    if close:
        _check_one_close_per_side(account, symbol, side, kind, idx)
    falls = (side is Side.SELL) == (kind is OrderType.STOP_MARKET)
    order = sim.engine.place_trigger(
        account, symbol, side, None if close else qty, trigger_price,
        Trigger.FALL if falls else Trigger.RISE, reduce_only=true(params, "reduceOnly") or close,
        close_position=close, client_id=str(params.get("clientAlgoId", "")), order_type=kind,
        position_idx=idx)
    return shapes.algo_order(order)


@route("signed")
def algo_get(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return shapes.algo_order(lookup(account, params, algo=True, code=-2013))


@route("signed")
def algo_cancel(sim: Simulator, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    order = lookup(account, params, algo=True, code=-2011)
    if not order.status.is_open:
        raise BinanceError(400, -2011, "Unknown order sent.")
    sim.engine.cancel(account, order.id)
    return {"algoId": order.id, "clientAlgoId": order.client_id, "code": "200", "msg": "success"}


def _conditional(o: Order) -> bool:
    return o.kind is OrderKind.CONDITIONAL


def setup(app: web.Application) -> None:
    app.router.add_post("/fapi/v1/algoOrder", algo_create)
    app.router.add_get("/fapi/v1/algoOrder", algo_get)
    app.router.add_delete("/fapi/v1/algoOrder", algo_cancel)
    app.router.add_delete("/fapi/v1/algoOpenOrders",
                          cancel_all_of(frozenset({OrderKind.CONDITIONAL})))
    app.router.add_get("/fapi/v1/openAlgoOrders",
                       listing(shapes.algo_order, _conditional, open_only=True))
    app.router.add_get("/fapi/v1/allAlgoOrders",
                       listing(shapes.algo_order, _conditional, open_only=False))
