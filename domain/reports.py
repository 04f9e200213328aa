"""Normalized exchange reports: what an exchange adapter returns and what events record.

A ccxt dict never crosses into the domain; the adapter turns it into one of these and keeps the
venue's original payload in ``raw`` so the event log holds the evidence. Prices are `Decimal`; an
unknown price is ``None``, never ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from warden.domain.values import (
    ZERO,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionMode,
    PriceSource,
    ReportSource,
    Side,
)


@dataclass(frozen=True)
class PositionReport:
    """One symbol's position as the exchange reports it. ``size == 0`` (and ``side is None``) is flat."""

    venue: str
    account: str
    symbol: str
    side: Side | None
    size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    source: ReportSource
    exchange_time: datetime | None = None
    stop_loss: Decimal | None = None
    liquidation_price: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_flat(self) -> bool:
        return self.size == ZERO


@dataclass(frozen=True)
class FillReport:
    """One execution (trade) of an order."""

    venue: str
    symbol: str
    order_id: str
    client_order_id: str | None
    side: OrderSide
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_currency: str | None
    trade_id: str
    time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class OrderReport:
    venue: str
    symbol: str
    order_id: str
    client_order_id: str | None
    status: OrderStatus
    side: OrderSide
    qty: Decimal
    filled_qty: Decimal
    average_price: Decimal | None  # None when the venue does not (yet) say; never 0
    reduce_only: bool
    trigger_price: Decimal | None = None
    time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    price: Decimal | None = None  # a limit order's price; None for a market or trigger order

    @property
    def is_open(self) -> bool:
        """Still on the venue's book (resting, or partly filled and resting)."""
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True)
class StopReport:
    """A stop-loss confirmed on the exchange. ``order_id`` is None for a Bybit position stop;
    ``client_order_id`` is the id warden gave a stop order (None when it gave none)."""

    venue: str
    symbol: str
    side: Side
    stop_price: Decimal
    order_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    client_order_id: str | None = None


@dataclass(frozen=True)
class ClosingOrder:
    """An order whose fills closed (part of) a position, as the venue describes it: what closed
    the position, not a guess from its price. ``order_type`` is the venue's own word for it
    (``StopLoss``, ``STOP_MARKET``, ``Market``...); ``price`` is the VWAP of its exiting fills."""

    order_id: str
    client_order_id: str | None
    origin: OrderOrigin
    order_type: str | None
    trigger_price: Decimal | None
    qty: Decimal
    price: Decimal
    fee: Decimal
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PositionModeReport:
    """An account's position mode as the venue shows it: ``shown_by`` says what showed it
    (``dualSidePosition true``, ``BTCUSDT positionIdx 1 and 2``) and ``setting`` names, in the
    venue's words, what to change for one-way mode."""

    mode: PositionMode
    shown_by: str
    setting: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PriceAnswer:
    """What one source of the execution-price chain said when it gave no usable price.

    ``said`` quotes the venue in words (``answered Filled with avgPrice "0", 0 of 100000
    executed``); ``price`` and ``qty`` are what it named, 0 included. ``refused`` marks an answer
    that reported the order executed at a price or quantity that cannot be real (the seed: Bybit's
    order query said Filled at ``avgPrice "0"``): the engine records it as a `FillRefused`. The
    others (nothing yet, a failure) are evidence on the event that follows.
    """

    source: PriceSource
    said: str
    price: Decimal | None = None
    qty: Decimal | None = None
    refused: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ExecutionPrice:
    """The resolved fill of an entry order and where the price came from; ``asked``: what the
    sources asked before it answered (or beside it, for a partial answer) said."""

    price: Decimal
    qty: Decimal
    source: PriceSource
    fee: Decimal = ZERO
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    asked: tuple[PriceAnswer, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class FillUnknown:
    """Nothing answered with a real price in time. The engine must not guess; ``asked`` is what
    each source said instead."""

    reason: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    asked: tuple[PriceAnswer, ...] = field(default=(), compare=False)
