"""What closed a position, in the venues' own words: the orders behind the exiting fills.

A position the venue closed is explained by the orders whose fills closed it, never by its exit
price alone. Each venue says what an order was in its own fields:

* Bybit v5 (https://bybit-exchange.github.io/docs/v5/enum): an execution's ``execType``
  (``BustTrade`` is a liquidation, ``AdlTrade`` auto-deleveraging) and ``stopOrderType``
  (``StopLoss``/``PartialStopLoss``/``TrailingStop``: the position's own stop; ``Stop``, ``TakeProfit``...:
  a conditional order); an order's ``createType`` (``CreateByLiq``, ``CreateByTakeOver_PassThrough``:
  the liquidation engine; ``CreateByAdl_PassThrough``; ``CreateByStopLoss``; ``CreateByStopOrder``).
* Binance USD-M: an order's ``clientOrderId`` (``autoclose-...`` is a liquidation, ``adl_autoclose``
  auto-deleveraging, ``settlement_autoclose-`` a delivery), ``type`` ``LIQUIDATION`` and ``origType``
  (``STOP_MARKET``, ``TAKE_PROFIT_MARKET``, ...: a triggered conditional order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from warden.adapters.exchange import normalize
from warden.domain.reports import ClosingOrder, FillReport, OrderReport
from warden.domain.values import OrderOrigin
from warden.engine.errors import ExchangeFailure

_BYBIT_POSITION_STOPS = {"StopLoss", "PartialStopLoss", "TrailingStop"}
_BYBIT_LIQUIDATION = ("CreateByLiq", "CreateByTakeOver", "CreateByLiquidate", "CreateByTakeover")
_BYBIT_VENUE = ("CreateByAdl", "CreateBySettle", "CreateByAdminClosing", "CreateByMmRateClose")
_BINANCE_TRIGGERS = {"STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT",
                     "TRAILING_STOP_MARKET"}


def bybit_origin(order: Mapping[str, Any], fill: Mapping[str, Any]) -> tuple[OrderOrigin, str | None]:
    """(origin, the venue's type word) of a Bybit order from its raw order and execution items."""
    exec_type = str(fill.get("execType") or "")
    create_type = str(order.get("createType") or "")
    stop_type = str(order.get("stopOrderType") or fill.get("stopOrderType") or "")
    if exec_type == "BustTrade" or create_type.startswith(_BYBIT_LIQUIDATION):
        return OrderOrigin.LIQUIDATION, create_type or exec_type
    if exec_type in ("AdlTrade", "Delivery", "Settle") or create_type.startswith(_BYBIT_VENUE):
        return OrderOrigin.VENUE, create_type or exec_type
    if stop_type in _BYBIT_POSITION_STOPS or create_type in ("CreateByStopLoss",
                                                              "CreateByPartialStopLoss",
                                                              "CreateByTrailingStop"):
        return OrderOrigin.POSITION_STOP, stop_type or create_type
    if stop_type or create_type.startswith("CreateByStopOrder") or \
            normalize.price(order.get("triggerPrice")) is not None:
        return OrderOrigin.STOP, stop_type or create_type
    return OrderOrigin.ORDER, str(order.get("orderType") or fill.get("orderType") or "") or None


def binance_origin(order: Mapping[str, Any], fill: Mapping[str, Any]) -> tuple[OrderOrigin, str | None]:
    """(origin, the venue's type word) of a Binance USD-M order from its raw order item."""
    client = str(order.get("clientOrderId") or "")
    kind, orig = str(order.get("type") or ""), str(order.get("origType") or "")
    if client.startswith("autoclose-") or kind == "LIQUIDATION" or orig == "LIQUIDATION":
        return OrderOrigin.LIQUIDATION, kind if kind == "LIQUIDATION" else "autoclose"
    if client.startswith(("adl_autoclose", "settlement_autoclose")) or kind == "ADL":
        return OrderOrigin.VENUE, client.split("-")[0]
    if orig in _BINANCE_TRIGGERS or kind in _BINANCE_TRIGGERS:
        return OrderOrigin.STOP, orig or kind
    return OrderOrigin.ORDER, kind or None


Classify = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[OrderOrigin, str | None]]
Query = Callable[[str], Awaitable[OrderReport | None]]


async def describe(fills: Sequence[FillReport], query: Query, classify: Classify) -> list[ClosingOrder]:
    """One `ClosingOrder` per order behind ``fills``, ordered by its last fill. An order the venue
    cannot be asked about now is still listed, with origin UNKNOWN (it is never guessed here)."""
    by_order: dict[str, list[FillReport]] = {}
    for fill in sorted(fills, key=lambda f: (f.time is None, f.time)):
        by_order.setdefault(fill.order_id, []).append(fill)
    described = []
    for order_id, own in by_order.items():
        total = normalize.vwap(own)
        if total is None:
            continue
        try:
            order = await query(order_id)
        except ExchangeFailure:
            order = None
        info = order.raw if order is not None else {}
        if order is None and not own[-1].raw.get("execType"):
            origin, kind = OrderOrigin.UNKNOWN, None  # nothing says what it was
        else:
            origin, kind = classify(info, own[-1].raw)
        described.append(ClosingOrder(
            order_id=order_id, client_order_id=(order.client_order_id if order else None)
            or own[-1].client_order_id, origin=origin, order_type=kind,
            trigger_price=order.trigger_price if order else None, qty=total[1], price=total[0],
            fee=total[2], raw={"order": dict(info), "fills": [f.raw for f in own]}))
    return described
