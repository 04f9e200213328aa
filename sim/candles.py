"""Candlesticks (klines) built from the simulator's own price history and fills.

Each candle covers [open, open + interval) on the simulator clock. Its open/high/low/close come
from the mark-price changes inside it; a candle with no change repeats the previous close (the
price was flat). Volume and turnover are the simulated fills of every account on that symbol.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .book import Fill

MINUTE = 60_000
# Bybit v5 `interval` and Binance `interval` values, in milliseconds ("M" is taken as 30 days)
BYBIT_INTERVALS = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240,
                   "360": 360, "720": 720, "D": 1440, "W": 10080, "M": 43200}
BINANCE_INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120,
                     "4h": 240, "6h": 360, "8h": 480, "12h": 720, "1d": 1440, "3d": 4320,
                     "1w": 10080, "1M": 43200}


@dataclass(frozen=True)
class Candle:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal
    trades: int


def candles(history: Sequence[tuple[int, Decimal]], fills: Iterable[Fill], interval_ms: int,
            now_ms: int, start_ms: int | None = None, end_ms: int | None = None,
            limit: int = 200) -> list[Candle]:
    """Up to `limit` candles, oldest first: from the one holding `start_ms` onward when given,
    else the last ones up to the one holding `end_ms` (default now)."""
    last_open = (min(end_ms, now_ms) if end_ms is not None else now_ms) // interval_ms
    last_open *= interval_ms
    if start_ms is not None:
        first_open = start_ms // interval_ms * interval_ms
        last_open = min(last_open, first_open + (limit - 1) * interval_ms)
    else:
        first_open = last_open - (limit - 1) * interval_ms
    if not history:
        return []
    first_open = max(first_open, history[0][0] // interval_ms * interval_ms)  # nothing earlier
    if first_open > last_open:
        return []
    times = [t for t, _ in history]
    by_bucket: dict[int, list[Fill]] = {}
    for fill in fills:
        by_bucket.setdefault(fill.time_ms // interval_ms * interval_ms, []).append(fill)
    out = []
    for open_ms in range(first_open, last_open + 1, interval_ms):
        lo = bisect.bisect_left(times, open_ms)
        hi = bisect.bisect_left(times, open_ms + interval_ms)
        before = history[lo - 1][1] if lo > 0 else history[0][1]
        prices = [before] + [p for _, p in history[lo:hi]]
        trades = by_bucket.get(open_ms, [])
        out.append(Candle(open_ms, prices[0], max(prices), min(prices), prices[-1],
                          sum((f.qty for f in trades), Decimal(0)),
                          sum((f.quote for f in trades), Decimal(0)), len(trades)))
    return out


def day_stats(history: Sequence[tuple[int, Decimal]], fills: Sequence[Fill],
              now_ms: int, cap: int = 10_000) -> Candle:
    """The rolling 24-hour window as one candle (what 24hr tickers report), read from at most the
    last `cap` price changes and fills so a busy feed stays cheap to summarise."""
    start = now_ms - 1440 * MINUTE
    prices: list[Decimal] = []
    for number, (t, p) in enumerate(reversed(history)):
        prices.append(p)
        if t <= start or number >= cap:
            break
    prices.reverse()
    trades = list(itertools.takewhile(lambda f: f.time_ms > start,
                                      itertools.islice(reversed(fills), cap)))
    return Candle(start, prices[0], max(prices), min(prices), prices[-1],
                  sum((f.qty for f in trades), Decimal(0)),
                  sum((f.quote for f in trades), Decimal(0)), len(trades))
