"""Pure translation of venue payloads into the domain's normalized reports.

Every parser reads the venue's raw strings first (ccxt keeps them in ``info``; the native Bybit
stream has nothing else) and falls back to ccxt's unified fields, which are floats, only when the
raw key is absent. One key list per field covers Bybit v5 REST and websocket items, Binance USD-M
REST responses and Binance user-data ``o``/``P`` objects, so the same parser serves REST, ccxt.pro
and the native stream. A price that is missing, empty or zero becomes ``None``: never ``0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from warden.domain.instrument import Instrument
from warden.domain.reports import FillReport, OrderReport, PositionReport
from warden.domain.values import ZERO, OrderSide, OrderStatus, ReportSource, Side

Payload = Mapping[str, Any]

_STATUS = {
    "new": OrderStatus.NEW,
    "untriggered": OrderStatus.NEW,  # Bybit conditional order waiting for its trigger
    "partiallyfilled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "finished": OrderStatus.FILLED,
    "closed": OrderStatus.FILLED,  # ccxt unified
    "open": OrderStatus.NEW,  # ccxt unified
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "partiallyfilledcanceled": OrderStatus.CANCELLED,
    "deactivated": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
    "expiredinmatch": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


def dec(value: Any) -> Decimal | None:
    """``Decimal`` from a venue string or ccxt float; ``None`` for missing, empty or non-finite."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def price(value: Any) -> Decimal | None:
    """A price, or ``None`` when it is missing or not strictly positive (Bybit says ``"0"``)."""
    number = dec(value)
    return number if number is not None and number > 0 else None


def first(info: Payload, *keys: str) -> Any:
    """The first of ``keys`` present in ``info`` with a non-empty value."""
    for key in keys:
        value = info.get(key)
        if value is not None and value != "":
            return value
    return None


def said(info: Payload, *keys: str) -> tuple[str | None, str | None]:
    """(key, text) of the first of ``keys`` the venue sent, exactly as sent (``"0"`` included),
    to quote what it said; (None, None) when it sent none of them."""
    for key in keys:
        value = info.get(key)
        if value is not None:
            return key, str(value)
    return None, None


def from_ms(value: Any) -> datetime | None:
    number = dec(value)
    if number is None or number <= 0:
        return None
    return datetime.fromtimestamp(float(number) / 1000, tz=UTC)


def _split(payload: Payload) -> tuple[Payload, Payload]:
    """(raw venue dict, ccxt unified dict) -- a raw dict has no ``info`` key."""
    info = payload.get("info")
    if isinstance(info, Mapping):
        return info, payload
    return payload, {}


def symbol_of(info: Payload) -> str:
    symbol = first(info, "symbol", "s")
    if symbol is None:
        raise ValueError(f"payload without a symbol: {dict(info)!r}")
    return str(symbol)


def order_side(value: Any) -> OrderSide:
    text = str(value or "").lower()
    if text not in ("buy", "sell"):
        raise ValueError(f"unknown order side {value!r}")
    return OrderSide(text)


def order_status(value: Any) -> OrderStatus:
    return _STATUS.get(str(value or "").lower().replace("_", ""), OrderStatus.UNKNOWN)


def parse_order(venue: str, payload: Payload) -> OrderReport:
    info, unified = _split(payload)
    order_id = first(info, "orderId", "i", "algoId", "aid") or unified.get("id")
    if order_id is None:
        raise ValueError(f"order without an id: {dict(info)!r}")
    filled = dec(first(info, "cumExecQty", "executedQty", "z"))
    return OrderReport(
        venue=venue,
        symbol=symbol_of(info),
        order_id=str(order_id),
        client_order_id=_str(first(info, "orderLinkId", "clientOrderId", "c", "clientAlgoId", "caid")
                             or unified.get("clientOrderId")),
        status=order_status(first(info, "orderStatus", "status", "X", "algoStatus")
                            or unified.get("status")),
        side=order_side(first(info, "side", "S") or unified.get("side")),
        qty=dec(first(info, "qty", "origQty", "q", "quantity")) or dec(unified.get("amount")) or ZERO,
        filled_qty=filled if filled is not None else dec(unified.get("filled")) or ZERO,
        average_price=price(first(info, "avgPrice", "ap")) or price(unified.get("average")),
        reduce_only=any(_bool(info.get(key)) for key in ("reduceOnly", "R", "closePosition", "cp")),
        trigger_price=price(first(info, "triggerPrice", "stopPrice", "sp", "tp"))
        or price(unified.get("triggerPrice")),
        # the venue's own field only: ccxt's unified "price" of a market order is its fill price
        price=price(first(info, "price", "p")),
        time=from_ms(first(info, "updatedTime", "updateTime", "T", "createdTime", "createTime"))
        or from_ms(unified.get("timestamp")),
        raw=dict(info),
    )


def parse_fill(venue: str, payload: Payload) -> FillReport:
    info, unified = _split(payload)
    fill_price = price(first(info, "execPrice", "price", "L")) or price(unified.get("price"))
    qty = dec(first(info, "execQty", "qty", "l")) or dec(unified.get("amount"))
    if fill_price is None or qty is None or qty <= 0:
        raise ValueError(f"fill without a positive price and quantity: {dict(info)!r}")
    fee = unified.get("fee") or {}
    return FillReport(
        venue=venue,
        symbol=symbol_of(info),
        order_id=str(first(info, "orderId", "i") or unified.get("order")),
        client_order_id=_str(first(info, "orderLinkId", "clientOrderId", "c")),
        side=order_side(first(info, "side", "S") or unified.get("side")),
        price=fill_price,
        qty=qty,
        fee=dec(first(info, "execFee", "commission", "n")) or dec(fee.get("cost")) or ZERO,
        fee_currency=_str(first(info, "feeCurrency", "commissionAsset", "N") or fee.get("currency")),
        trade_id=str(first(info, "execId", "id", "t") or unified.get("id")),
        time=from_ms(first(info, "execTime", "time", "T")) or from_ms(unified.get("timestamp")),
        raw=dict(info),
    )


def parse_position(venue: str, account: str, payload: Payload, source: ReportSource,
                   event_time_ms: Any = None) -> PositionReport:
    """A position; ``event_time_ms`` stands in for Binance's user-data ``P`` items, which carry none."""
    info, unified = _split(payload)
    signed = dec(first(info, "size", "positionAmt", "pa"))
    if signed is None:
        signed = dec(unified.get("contracts")) or ZERO
    size = abs(signed)
    return PositionReport(
        venue=venue,
        account=account,
        symbol=symbol_of(info),
        side=_position_side(info.get("side"), signed, unified.get("side")) if size else None,
        size=size,
        entry_price=(price(first(info, "avgPrice", "entryPrice", "ep")) or price(unified.get("entryPrice")))
        if size else None,
        mark_price=price(first(info, "markPrice")) or price(unified.get("markPrice")),
        source=source,
        exchange_time=from_ms(first(info, "updatedTime", "updateTime") or event_time_ms)
        or from_ms(unified.get("timestamp")),
        stop_loss=price(first(info, "stopLoss")) if size else None,
        liquidation_price=price(first(info, "liqPrice", "liquidationPrice")),
        raw=dict(info),
    )


def _position_side(raw_side: Any, signed: Decimal, unified_side: Any) -> Side | None:
    text = str(raw_side or unified_side or "").lower()
    if text in ("buy", "long"):
        return Side.LONG
    if text in ("sell", "short"):
        return Side.SHORT
    # Binance one-way mode: side is "BOTH" and the amount's sign says which way.
    return Side.LONG if signed > 0 else Side.SHORT


def parse_instrument(market: Payload) -> Instrument:
    """An `Instrument` from a ccxt market (TICK_SIZE precision mode: precision is the step)."""
    precision, limits = market.get("precision") or {}, market.get("limits") or {}
    tick = dec(precision.get("price"))
    step = dec(precision.get("amount"))
    return Instrument(
        symbol=str(market["id"]),
        tick_size=tick,  # type: ignore[arg-type]  # Instrument refuses None itself
        qty_step=step,  # type: ignore[arg-type]
        min_qty=dec((limits.get("amount") or {}).get("min")) or step,  # type: ignore[arg-type]
        min_price=price((limits.get("price") or {}).get("min")) or tick,  # type: ignore[arg-type]
        min_notional=dec((limits.get("cost") or {}).get("min")) or ZERO,
    )


def vwap(fills: Iterable[FillReport]) -> tuple[Decimal, Decimal, Decimal] | None:
    """(volume-weighted price, total qty, total fee) of ``fills``, or None when there are none."""
    fills = list(fills)
    qty = sum((f.qty for f in fills), ZERO)
    if qty <= 0:
        return None
    notional = sum((f.price * f.qty for f in fills), ZERO)
    return notional / qty, qty, sum((f.fee for f in fills), ZERO)


def unique_fills(fills: Sequence[FillReport]) -> list[FillReport]:
    """``fills`` without repeats of the same trade id, first occurrence kept."""
    seen: set[str] = set()
    out = []
    for fill in fills:
        if fill.trade_id not in seen:
            seen.add(fill.trade_id)
            out.append(fill)
    return out


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
