"""The `PriceTape` aggregate: the prices of one (venue, symbol), recorded once for every position.

A price belongs to its symbol, not to each position that saw it: the engine records a symbol's
prices here (`PriceRecorded`: price, source, time; no venue payload), by the tape rule in
`warden.engine.tape`, and positions record only their decisions with the prices that caused them
(`TrailingActivated.price`, a trailing `StopLossRequested.reference_price`). One tape per
(venue, symbol), with a deterministic id (`price_tape_id`), so every process appends to the same
one. Its state is its last price; loading it is a snapshot away (`adapters/store.py`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from warden.domain import events as ev
from warden.domain.errors import InvalidMark
from warden.domain.ids import price_tape_id
from warden.domain.values import PriceSource


class PriceTape(Aggregate):
    class_version = 1

    def __init__(self) -> None:
        """State is assigned by ``when`` from the creating event."""

    @staticmethod
    def id_for(venue: str, symbol: str) -> UUID:
        return price_tape_id(venue, symbol)

    @classmethod
    def open(cls, *, venue: str, symbol: str, at: datetime) -> PriceTape:
        return cls._create(ev.PriceTapeOpened, id=price_tape_id(venue, symbol), timestamp=at,
                           venue=venue, symbol=symbol)

    def record(self, *, price: Decimal, source: PriceSource, at: datetime) -> None:
        if not price.is_finite() or price <= 0:
            raise InvalidMark(f"{self.symbol}: price {price} must be > 0")
        self.trigger_event(ev.PriceRecorded, timestamp=at, price=price, source=source)

    def when(self, event: object) -> None:
        if isinstance(event, ev.PriceTapeOpened):
            self.venue, self.symbol = event.venue, event.symbol
            self.last_price: Decimal | None = None
            self.last_at: datetime | None = None
        elif isinstance(event, ev.PriceRecorded):
            self.last_price, self.last_at = event.price, event.timestamp
