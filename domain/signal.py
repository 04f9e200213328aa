"""Signals: what a bot asks warden to open, parsed and validated into a `Signal` value.

`parse_signal` accepts a JSON-like dict and raises `InvalidSignal` naming the first problem; the
caller records the rejection (`SignalBook`). `signal_key` reads only what names a signal (venue,
account, id: what `ids.position_id` is made of), for the intake's replay guard. Nothing here knows
about HTTP or signatures.

Numbers are read exactly: a decimal string of ASCII digits (exponent allowed), an int, a float or a
`Decimal`. Anything else (``"NaN"``, ``"Infinity"``, ``"-0"``, ``"1_000"``, unicode digits, a bool)
is refused, and so is an amount outside [`MIN_AMOUNT`, `MAX_AMOUNT`]: ``1e30`` of anything is a
typo, and decimal arithmetic at the instrument's step could not hold it.
"""

from __future__ import annotations

import re
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
MIN_AMOUNT, MAX_AMOUNT = Decimal("1e-12"), Decimal("1e15")  # the refusal's text spells them too
_ID = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_ID}}}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?", re.ASCII)
_SHOWN = 40  # characters of a refused value quoted back


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
    venue, account, signal_id = signal_key(payload)
    side = _SIDES.get(_text(payload, "side").lower())
    if side is None:
        raise InvalidSignal("side must be long/buy or short/sell")
    quantity, notional = _amount(payload, "quantity"), _amount(payload, "notional")
    if (quantity is None) == (notional is None):
        raise InvalidSignal("give exactly one of quantity or notional")
    return Signal(
        signal_id=signal_id, venue=venue, account=account,
        symbol=_text(payload, "symbol").upper(), side=side, quantity=quantity, notional=notional,
        stop_loss_percent=_percent(payload, "stop_loss_percent"),
        trailing_activation_percent=_percent(payload, "trailing_activation_percent"),
        trailing_callback_percent=_percent(payload, "trailing_callback_percent"),
        at=received_at, raw=evidence(payload))


def signal_key(payload: Any) -> tuple[str, str, str]:
    """``(venue, account, signal_id)`` as `ids.position_id` takes them; raises `InvalidSignal`."""
    if not isinstance(payload, dict):
        raise InvalidSignal("a signal must be a JSON object")
    signal_id = _text(payload, "signal_id")
    venue = _VENUES.get(_text(payload, "exchange").lower())
    if venue is None:
        raise InvalidSignal(f"exchange must be one of {sorted(_VENUES)}")
    return venue, _text(payload, "account", "main"), signal_id


def _text(payload: dict[str, Any], key: str, default: str | None = None) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InvalidSignal(f"{key} must be a non-empty string")
    if not _ID.fullmatch(value.strip()):
        raise InvalidSignal(f"{key} must be <= {MAX_ID} of A-Z a-z 0-9 '-', '_' or '.'")
    return value.strip()


def _amount(payload: dict[str, Any], key: str) -> Decimal | None:
    if payload.get(key) is None:
        return None
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidSignal(f"{key} must be a number or a decimal string")
    if isinstance(value, str) and not _NUMBER.fullmatch(value):
        raise InvalidSignal(f"{key} {_quote(value)} is not a decimal number (ASCII digits, '.', exponent)")
    try:
        amount = Decimal(value) if isinstance(value, str | Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):  # an int too long to print (Python's 4300-digit limit)
        raise InvalidSignal(f"{key} is not a number it can read") from None
    if not amount.is_finite():
        raise InvalidSignal(f"{key} must be a finite number, got {_quote(value)}")
    if amount <= 0:
        raise InvalidSignal(f"{key} must be > 0, got {_quote(value)}")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise InvalidSignal(f"{key} {_quote(value)} is out of range [1e-12, 1e15]")
    return amount


def _quote(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)  # repr escapes lone surrogates
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _percent(payload: dict[str, Any], key: str) -> Decimal | None:
    amount = _amount(payload, key)
    if amount is not None and amount >= 100:
        raise InvalidSignal(f"{key} must be below 100, got {amount}")
    return amount
