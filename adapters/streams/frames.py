"""Screening raw venue frames before anything parses them.

Every websocket frame a feed reads -- through ccxt.pro (the `FrameGuard` asks) or natively -- is
screened here first. A frame passes only when it is what the venue sends: UTF-8 JSON text of a
known shape, no deeper than a venue nests, every string real text (no lone surrogate), and every
number the feed reads -- prices, quantities, times -- a finite decimal within sane bounds. Anything
else is refused with a one-line reason, and never reaches ccxt or the report parsers: a truncated
frame, a number where an object belongs, ``NaN``, ``1e400``, a price of ``-5``, a symbol of 10 KB.

Numbers are ASCII decimals (``"60010.5"``, ``1e3``; not ``"1_000"`` or Arabic-Indic digits, which
Python's `Decimal` would take). Bounds: a price is 0 (Bybit's "none") or within [1e-12, 1e15]; a
quantity is 0 or within [1e-12, 1e15]; a signed amount (PnL, fee, funding, Binance's position
amount) is 0 or of a magnitude within [1e-12, 1e15]; a time is an integer in [0, 1e14) ms.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from enum import Enum
from typing import Any

from warden.domain.values import Venue

MAX_FRAME_CHARS = 512 * 1024  # an ACCOUNT_UPDATE of hundreds of positions stays far below this
MAX_DEPTH = 6  # Binance ACCOUNT_UPDATE nests 4 deep ({a: {P: [{...}]}}); Bybit 3
MAX_TEXT = 256  # characters of any string value
_LOW, _HIGH = Decimal("1e-12"), Decimal("1e15")
_MAX_TIME = 10**14
_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class Field(Enum):
    PRICE = "price"
    QUANTITY = "quantity"
    SIGNED = "signed amount"
    TIME = "time"
    SYMBOL = "symbol"


def _table(**kinds: str) -> dict[str, Field]:
    return {name: Field[kind.upper()] for kind, names in kinds.items() for name in names.split()}


BYBIT_FIELDS = _table(
    price="avgPrice entryPrice markPrice lastPrice indexPrice price triggerPrice stopLoss takeProfit "
          "trailingStop liqPrice bustPrice execPrice orderPrice prevPrice24h highPrice24h lowPrice24h "
          "bid1Price ask1Price sessionAvgPrice activePrice",
    quantity="size qty cumExecQty cumExecValue execQty execValue leavesQty leavesValue closedSize "
             "positionValue positionIM positionMM volume24h turnover24h openInterest "
             "openInterestValue bid1Size ask1Size",
    signed="cumExecFee execFee unrealisedPnl cumRealisedPnl curRealisedPnl positionBalance "
           "fundingRate price24hPcnt execPnl closedPnl",
    time="updatedTime createdTime execTime creationTime ts nextFundingTime",
    symbol="symbol")
_BINANCE_TOP = _table(time="E T")
BINANCE_FIELDS: dict[str, dict[str, Field]] = {
    "order": _table(price="ap L p sp AP", quantity="q l z b a", signed="n rp", time="T", symbol="s"),
    "algo": _table(price="tp p ap", quantity="q aq", time="tt", symbol="s"),
    "position": _table(price="ep bep", signed="pa cr up iw", symbol="s"),
    "balance": _table(signed="wb cw bc"),
    "mark": _table(price="p i P ap", signed="r", time="E T", symbol="s"),
}
BYBIT_TOPICS = {"position", "order", "execution", "execution.fast", "wallet", "greeks", "tickers"}
BYBIT_OPS = {"auth", "subscribe", "unsubscribe", "ping", "pong"}
BINANCE_EVENTS = {"ORDER_TRADE_UPDATE", "ALGO_UPDATE", "ACCOUNT_UPDATE", "listenKeyExpired",
                  "eventStreamTerminated", "TRADE_LITE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL",
                  "STRATEGY_UPDATE", "GRID_UPDATE", "CONDITIONAL_ORDER_TRIGGER_REJECT",
                  "markPriceUpdate"}


class Refused(ValueError):
    """Why a frame does not pass: ``kind: detail``, the kind one of binary, size, empty, json,
    depth, text, shape, value."""


def screen(venue: Venue | str, data: str | bytes) -> str | None:
    """Why ``data`` must not be parsed, or None when it is a frame of ``venue``'s known shapes."""
    try:
        frame = decode(data)
        if Venue(venue) is Venue.BYBIT:
            _bybit(frame)
        else:
            _binance(frame)
    except Refused as refusal:
        return str(refusal)
    return None


def decode(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        raise Refused(f"binary: a binary frame of {len(data)} bytes (the venues send text)")
    if len(data) > MAX_FRAME_CHARS:
        raise Refused(f"size: a frame of {len(data)} characters (limit {MAX_FRAME_CHARS})")
    if not data.strip():
        raise Refused("empty: an empty frame")
    try:
        frame = json.loads(data, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(f"depth: nested deeper than {MAX_DEPTH}") from None
    except ValueError as exc:  # JSONDecodeError, a 5,000-digit integer, NaN / Infinity
        raise Refused(f"json: {str(exc)[:120]}") from None
    _plain(frame, 0)
    return frame


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _plain(value: Any, depth: int) -> None:
    """No deeper than `MAX_DEPTH`, every key and string short, valid UTF-8 text."""
    if depth > MAX_DEPTH:
        raise Refused(f"depth: nested deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise Refused(f"text: a string of {len(value)} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("text: a lone surrogate in a string") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _plain(key, depth + 1)
            _plain(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _plain(item, depth + 1)


# -- shapes ---------------------------------------------------------------------------------------
def _bybit(frame: Any) -> None:
    if not isinstance(frame, dict):
        raise Refused(f"shape: a {type(frame).__name__}, not an object")
    topic = frame.get("topic")
    if topic is None:
        op = frame.get("op", "pong" if frame.get("ret_msg") == "pong" else None)
        if op not in BYBIT_OPS:
            raise Refused(f"shape: unknown frame (op {op!r:.40})")
        return
    if not isinstance(topic, str) or topic.split(".")[0] not in BYBIT_TOPICS:
        raise Refused(f"shape: unknown topic {topic!r:.60}")
    _fields(frame, BYBIT_FIELDS, "")
    data = frame.get("data")
    ticker = topic.startswith("tickers.")
    items = [data] if ticker else data
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Refused(f"shape: {topic}: data is not {'an object' if ticker else 'a list of objects'}")
    for item in items:
        _fields(item, BYBIT_FIELDS, topic)


def _binance(frame: Any) -> None:
    if isinstance(frame, dict) and isinstance(frame.get("stream"), str) and "data" in frame:
        frame = frame["data"]  # a combined stream's wrapper
    if isinstance(frame, list):  # an "all symbols" mark price stream
        if not frame:
            raise Refused("shape: an empty list")
        for item in frame:
            _binance_event(item, {"markPriceUpdate"})
        return
    if isinstance(frame, dict) and "id" in frame and ("result" in frame or "error" in frame):
        return  # the answer to a (un)subscribe request
    _binance_event(frame, BINANCE_EVENTS)


def _binance_event(frame: Any, events: set[str]) -> None:
    if not isinstance(frame, dict):
        raise Refused(f"shape: a {type(frame).__name__}, not an object")
    event = frame.get("e")
    if event not in events:
        raise Refused(f"shape: unknown event {event!r:.60}")
    _fields(frame, _BINANCE_TOP, event)
    if event in ("ORDER_TRADE_UPDATE", "ALGO_UPDATE"):
        _fields(_member(frame, "o", dict, event), BINANCE_FIELDS["order" if event[0] == "O" else "algo"],
                event)
    elif event == "ACCOUNT_UPDATE":
        update = _member(frame, "a", dict, event)
        for part, table in (("P", "position"), ("B", "balance")):
            for item in _member(update, part, list, event, default=[]):
                _fields(item if isinstance(item, dict) else _not_object(event, part),
                        BINANCE_FIELDS[table], event)
    elif event == "markPriceUpdate":
        _fields(frame, BINANCE_FIELDS["mark"], event)


def _member(frame: dict[str, Any], key: str, kind: type, event: str, default: Any = None) -> Any:
    value = frame.get(key, default)
    if not isinstance(value, kind):
        raise Refused(f"shape: {event}: {key} is not {'an object' if kind is dict else 'a list'}")
    return value


def _not_object(event: str, part: str) -> dict[str, Any]:
    raise Refused(f"shape: {event}: an item of {part} is not an object")


# -- values ---------------------------------------------------------------------------------------
def _fields(item: dict[str, Any], table: dict[str, Field], where: str) -> None:
    for key, value in item.items():
        kind = table.get(key)
        if kind is not None and not _fits(kind, value):
            raise Refused(f"value: {where or 'frame'}: {key} = {str(value)[:40]!r} is not a {kind.value}")


def _fits(kind: Field, value: Any) -> bool:
    if kind is Field.SYMBOL:
        return isinstance(value, str) and _SYMBOL.fullmatch(value) is not None
    if isinstance(value, bool) or value is None:
        return False
    if kind is Field.TIME:
        text = str(value) if isinstance(value, int | str) else ""
        return text.isascii() and text.isdigit() and len(text) <= 15 and int(text) < _MAX_TIME
    if value == "":
        return True  # Bybit's empty string for "none"
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value) is None:
            return False
    elif not isinstance(value, int | Decimal):
        return False
    number = Decimal(value) if isinstance(value, str | int) else value
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    if not -13 <= number.adjusted() <= 15:  # first: arithmetic on 1E+999999999 overflows
        return False
    return _LOW <= abs(number) <= _HIGH and (kind is Field.SIGNED or number > 0)
