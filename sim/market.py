"""Instruments, the simulator clock and the price feed (venue-neutral).

An `Instrument` carries the trading rules both venues enforce (tick size, qty step, min/max price,
min qty, min notional). `PriceFeed` holds one mark price per symbol and moves it either along a
seeded random walk, a scripted list, or a replayed CSV, so every run with the same seed and inputs
produces the same prices. Nothing here touches the network.
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol, TypeVar

N = TypeVar("N", int, Decimal)


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock milliseconds."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """A clock that only moves when told to; for deterministic tests."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = start_ms if start_ms is not None else int(time.time() * 1000)

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1000)

    def set(self, now_ms: int) -> None:
        self._now = now_ms


def fmt(value: Decimal | None) -> str:
    """Plain decimal string without exponent or trailing zeros ("" for None)."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def number_param(params: dict[str, object], name: str, parse: Callable[[str], N],
                 invalid: Callable[[str], Exception]) -> N | None:
    """An optional numeric request parameter ("" counts as missing, as on both venues), read by
    `parse` (Decimal, int); ``invalid(name)`` is the venue's own error for what is not one."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse(str(raw))
    except (InvalidOperation, ValueError):
        raise invalid(name) from None


def decimal_param(params: dict[str, object], name: str,
                  invalid: Callable[[str], Exception]) -> Decimal | None:
    return number_param(params, name, Decimal, invalid)


def decimals_of(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_price: Decimal
    max_price: Decimal
    min_notional: Decimal
    start_price: Decimal
    max_leverage: int = 100
    quote: str = "USDT"
    maint_margin: Decimal = Decimal("0.005")    # maintenance margin rate (liquidation)

    def round_price(self, price: Decimal, up: bool | None = None) -> Decimal:
        """Round to the tick: nearest when `up` is None, else up/down."""
        mode = ROUND_HALF_UP if up is None else (ROUND_UP if up else ROUND_DOWN)
        return (price / self.tick_size).to_integral_value(mode) * self.tick_size

    def on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def on_step(self, qty: Decimal) -> bool:
        return qty % self.qty_step == 0

    @property
    def price_decimals(self) -> int:
        return decimals_of(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        return decimals_of(self.qty_step)


def _d(text: str) -> Decimal:
    return Decimal(text)


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("BTCUSDT", "BTC", _d("0.10"), _d("0.001"), _d("0.001"), _d("1190"),
               _d("0.10"), _d("1999999.80"), _d("5"), _d("60000")),
    Instrument("ETHUSDT", "ETH", _d("0.01"), _d("0.01"), _d("0.01"), _d("7240"),
               _d("0.01"), _d("199999.98"), _d("5"), _d("3000")),
    Instrument("10000SATSUSDT", "10000SATS", _d("0.0000001"), _d("100"), _d("100"),
               _d("500000000"), _d("0.0000001"), _d("0.1999998"), _d("5"), _d("0.0002345"),
               max_leverage=50),
    Instrument("SHIB1000USDT", "SHIB1000", _d("0.000001"), _d("10"), _d("10"), _d("50000000"),
               _d("0.000001"), _d("1.999998"), _d("5"), _d("0.012345"), max_leverage=50),
)


HISTORY = 200_000      # price changes kept per symbol


def _stable_seed(seed: int, symbol: str) -> int:
    digest = hashlib.sha256(f"{seed}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class PriceFeed:
    """Current mark price per symbol, moved by `step()` or set directly.

    Precedence in `step()`: a scripted queue for the symbol, then CSV replay rows, then the seeded
    random walk (relative step drawn from N(0, volatility)). Every change is reported to the
    listeners as `(symbol, price)` and kept in `history` with the clock's time.
    """

    def __init__(self, instruments: Iterable[Instrument], seed: int = 0,
                 volatility: Decimal = Decimal("0.001"), clock: Clock | None = None) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self.prices: dict[str, Decimal] = {s: i.start_price for s, i in self.instruments.items()}
        self.clock = clock or SystemClock()
        # (time, price) of every change, for candles; bounded so long runs stay small
        start = self.clock.now_ms()
        self.history: dict[str, deque[tuple[int, Decimal]]] = {
            s: deque([(start, p)], maxlen=HISTORY) for s, p in self.prices.items()}
        self.volatility = volatility
        self._rngs = {s: random.Random(_stable_seed(seed, s)) for s in self.instruments}
        self._scripts: dict[str, deque[Decimal]] = {s: deque() for s in self.instruments}
        self._replay: dict[str, deque[Decimal]] = {s: deque() for s in self.instruments}
        self.listeners: list[Callable[[str, Decimal], None]] = []

    def price(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    def set_price(self, symbol: str, price: Decimal | str) -> Decimal:
        inst = self.instruments[symbol]
        value = inst.round_price(Decimal(str(price)))
        value = max(inst.min_price, min(inst.max_price, value))
        self.prices[symbol] = value
        self.history[symbol].append((self.clock.now_ms(), value))
        for listener in list(self.listeners):
            listener(symbol, value)
        return value

    def script(self, symbol: str, prices: Iterable[Decimal | str]) -> None:
        """Queue prices that the next `step()` calls will use, one per step."""
        self._scripts[symbol].extend(Decimal(str(p)) for p in prices)

    def load_csv(self, path: str | Path) -> None:
        """Replay rows `symbol,price` (an optional leading timestamp column is ignored)."""
        with open(path, newline="") as handle:
            for row in csv.reader(handle):
                if not row or row[0].strip().lower() in ("symbol", "timestamp", "ts", "time"):
                    continue
                symbol, price = (row[1], row[2]) if len(row) >= 3 else (row[0], row[1])
                if symbol.strip() in self._replay:
                    self._replay[symbol.strip()].append(Decimal(price.strip()))

    def step(self, symbols: Iterable[str] | None = None) -> dict[str, Decimal]:
        moved = {}
        for symbol in list(symbols or self.instruments):
            moved[symbol] = self.set_price(symbol, self._next(symbol))
        return moved

    def _next(self, symbol: str) -> Decimal:
        if self._scripts[symbol]:
            return self._scripts[symbol].popleft()
        if self._replay[symbol]:
            return self._replay[symbol].popleft()
        shock = Decimal(repr(self._rngs[symbol].gauss(0.0, 1.0))) * self.volatility
        return self.prices[symbol] * (1 + shock)
