"""Signals: what a bot asks warden to open, parsed and validated into a `Signal` value.

`parse_signal` accepts a JSON-like dict and raises `InvalidSignal` naming the first problem; the
caller records the rejection (`SignalBook`). Nothing here knows about HTTP or signatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from warden.domain.errors import InvalidSignal
from warden.domain.evidence import evidence
from warden.domain.values import Side, Venue

_SIDES = {"long": Side.LONG, "buy": Side.LONG, "short": Side.SHORT, "sell": Side.SHORT}
_VENUES = {v.value: v.value for v in Venue} | {"binance": Venue.BINANCE.value}
MAX_ID = 64


@dataclass(frozen=True)
class Signal:
    signal_id: str
    venue: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal | None
    notional: Decimal | None
    stop_loss_percent: Decimal | None
    trailing_activation_percent: Decimal | None
    trailing_callback_percent: Decimal | None
    at: datetime
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_signal(payload: Any, *, received_at: datetime) -> Signal:
    if not isinstance(payload, dict):
        raise InvalidSignal("a signal must be a JSON object")
    signal_id = _text(payload, "signal_id")
    venue = _VENUES.get(_text(payload, "exchange").lower())
    if venue is None:
        raise InvalidSignal(f"exchange must be one of {sorted(_VENUES)}")
    side = _SIDES.get(_text(payload, "side").lower())
    if side is None:
        raise InvalidSignal("side must be long/buy or short/sell")
    quantity, notional = _amount(payload, "quantity"), _amount(payload, "notional")
    if (quantity is None) == (notional is None):
        raise InvalidSignal("give exactly one of quantity or notional")
    return Signal(
        signal_id=signal_id, venue=venue, account=_text(payload, "account", "main"),
        symbol=_text(payload, "symbol").upper(), side=side, quantity=quantity, notional=notional,
        stop_loss_percent=_percent(payload, "stop_loss_percent"),
        trailing_activation_percent=_percent(payload, "trailing_activation_percent"),
        trailing_callback_percent=_percent(payload, "trailing_callback_percent"),
        at=received_at, raw=evidence(payload))


def _text(payload: dict[str, Any], key: str, default: str | None = None) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InvalidSignal(f"{key} must be a non-empty string")
    if len(value) > MAX_ID or not value.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidSignal(f"{key} must be <= {MAX_ID} letters, digits, '-', '_' or '.'")
    return value.strip()


def _amount(payload: dict[str, Any], key: str) -> Decimal | None:
    if payload.get(key) is None:
        return None
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidSignal(f"{key} must be a number or a decimal string")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidSignal(f"{key} {value!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidSignal(f"{key} must be > 0, got {value!r}")
    return amount


def _percent(payload: dict[str, Any], key: str) -> Decimal | None:
    amount = _amount(payload, key)
    if amount is not None and amount >= 100:
        raise InvalidSignal(f"{key} must be below 100, got {amount}")
    return amount
