"""Small builders for tests: instruments, times and positions in a given state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from warden.domain.instrument import Instrument
from warden.domain.position import Position
from warden.domain.values import PriceSource, Side, StopPurpose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BTC = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("0.1"),
                 Decimal("5"))
SATS = Instrument("10000SATSUSDT", Decimal("0.0000001"), Decimal("100"), Decimal("100"),
                  Decimal("0.0000001"))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(side: Side = Side.LONG, *, signal_id: str = "sig-1", qty: str = "0.010",
           instrument: Instrument = BTC) -> Position:
    return Position.open(venue="bybit", account="main", signal_id=signal_id,
                         symbol=instrument.symbol, side=side, quantity=Decimal(qty),
                         instrument=instrument, at=at(0), raw={"signal": signal_id})


def filled(side: Side = Side.LONG, price: str = "60000", **kwargs: object) -> Position:
    position = opened(side, **kwargs)  # type: ignore[arg-type]
    position.record_entry_order(client_order_id="cid", order_id="oid-1", at=at(1))
    position.fill(price=Decimal(price), quantity=position.quantity, source=PriceSource.EXECUTIONS,
                  at=at(2), order_id="oid-1", fee=Decimal("0.36"), raw={"execPrice": price})
    return position


def protected(side: Side = Side.LONG, price: str = "60000", stop: str | None = None,
              **kwargs: object) -> Position:
    position = filled(side, price, **kwargs)
    stop_price = Decimal(stop) if stop else Decimal(price) * (1 - side.sign * Decimal("0.02"))
    position.request_stop(price=stop_price, reference_price=Decimal(price), purpose=StopPurpose.INITIAL,
                          at=at(3))
    position.confirm_stop(price=stop_price, reference_price=Decimal(price), order_id=None, at=at(4))
    return position
