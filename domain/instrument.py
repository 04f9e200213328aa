"""The `Instrument` value object and protective price rounding.

A stop-loss is rounded toward the position's favour, never to nearest: a long's stop rounds up to
the tick (it sits below the price, so up means closer and less loss), a short's rounds down. A stop
that is <= 0, below the venue's minimum price, or not strictly on the protective side of the price
it is placed against is refused here, before anything is sent (the seed bot sent 0.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, DecimalException

from warden.domain.errors import InvalidInstrument, InvalidStop, OutOfRange
from warden.domain.values import ZERO, Side


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    min_price: Decimal
    min_notional: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("tick_size", "qty_step", "min_qty", "min_price"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise InvalidInstrument(f"{self.symbol}: {name} must be a positive Decimal, got {value!r}")
        if self.min_notional < 0:
            raise InvalidInstrument(f"{self.symbol}: min_notional must be >= 0")

    def is_tick_multiple(self, price: Decimal) -> bool:
        try:
            return price % self.tick_size == 0
        except DecimalException:  # too many ticks to count: it cannot be sent either
            return False

    def round_price(self, price: Decimal, *, up: bool) -> Decimal:
        return self._to_step(price, self.tick_size, ROUND_CEILING if up else ROUND_FLOOR, "price")

    def round_stop(self, side: Side, price: Decimal) -> Decimal:
        """Round a stop to the tick in the protective direction (long: up, short: down)."""
        return self.round_price(price, up=side is Side.LONG)

    def validate_stop(self, side: Side, stop: Decimal, reference: Decimal) -> None:
        """Refuse a stop that the exchange would reject or that would not protect."""
        if not stop.is_finite() or stop <= 0:
            raise InvalidStop(f"{self.symbol}: stop {stop} must be > 0")
        if stop < self.min_price:
            raise InvalidStop(f"{self.symbol}: stop {stop} is below the minimum price {self.min_price}")
        if not self.is_tick_multiple(stop):
            raise InvalidStop(f"{self.symbol}: stop {stop} is not a multiple of the tick {self.tick_size}")
        if side is Side.LONG and stop >= reference:
            raise InvalidStop(f"{self.symbol}: a long's stop {stop} must be below {reference}")
        if side is Side.SHORT and stop <= reference:
            raise InvalidStop(f"{self.symbol}: a short's stop {stop} must be above {reference}")

    def protective_stop(self, side: Side, raw: Decimal, reference: Decimal) -> Decimal:
        """Round ``raw`` protectively and validate it against ``reference``; raises `InvalidStop`."""
        if not raw.is_finite() or raw <= 0:
            raise InvalidStop(f"{self.symbol}: stop {raw} must be > 0")
        stop = self.round_stop(side, raw)
        if side is Side.LONG and stop < self.min_price:
            # Raising a long's stop to the venue minimum is tighter, so still protective.
            stop = self.round_price(self.min_price, up=True)
        self.validate_stop(side, stop, reference)
        return stop

    def round_qty(self, qty: Decimal) -> Decimal:
        """Round an order quantity down to the step: never trade more than asked."""
        return self._to_step(qty, self.qty_step, ROUND_FLOOR, "quantity")

    def tradable_qty(self, qty: Decimal, price: Decimal) -> bool:
        try:
            return qty >= self.min_qty and qty * price >= self.min_notional
        except DecimalException:
            raise OutOfRange(f"{self.symbol}: {qty} at {price} is out of range") from None

    def _to_step(self, value: Decimal, step: Decimal, rounding: str, what: str) -> Decimal:
        """``value`` as a whole number of ``step``s; `OutOfRange` when decimal arithmetic cannot hold
        it (its default 28 digits), so a huge or NaN input is a refusal, never a crash."""
        try:
            if not value.is_finite():  # NaN would round quietly to NaN
                raise DecimalException
            steps = (value / step).to_integral_value(rounding)
            return (steps * step).quantize(step)
        except DecimalException:
            raise OutOfRange(f"{self.symbol}: {what} {value} does not fit in steps of {step}") from None
