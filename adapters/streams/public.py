"""Public mark-price ticks for the trailing stop, through ccxt.pro.

Bybit: ``watch_tickers`` on ``tickers.<SYMBOL>`` (the ticker carries ``markPrice``). Binance USD-M:
``watch_mark_prices`` on ``<symbol>@markPrice@1s``. A tick carries the mark price when the venue
sent one and the last trade price otherwise, with its `PriceSource` saying which. After a dropped
connection the next watch reconnects and resubscribes (ccxt.pro), after a jittered backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import ccxt.async_support as ccxt

from warden.adapters.exchange import normalize
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.streams.base import Backoff
from warden.adapters.streams.events import PriceTick, StreamRejection
from warden.domain.values import PriceSource, Venue


def parse_tick(venue: str, symbol: str, ticker: dict[str, Any]) -> PriceTick | None:
    """A tick from a ccxt ticker, raw ``info`` first; None when it has no usable price."""
    info = ticker.get("info") or {}
    mark = normalize.price(normalize.first(info, "markPrice", "p")) or normalize.price(
        ticker.get("markPrice"))
    if mark is not None:
        value, source = mark, PriceSource.MARK
    else:
        value = normalize.price(normalize.first(info, "lastPrice")) or normalize.price(ticker.get("last"))
        if value is None:
            return None
        source = PriceSource.TICKER
    return PriceTick(venue=venue, symbol=symbol, price=value, source=source,
                     time=normalize.from_ms(ticker.get("timestamp")), raw=dict(info))


class MarkPriceStream:
    feed = "mark-price"

    def __init__(self, exchange: CcxtExchange, symbols: Iterable[str], *,
                 backoff: Backoff | None = None) -> None:
        self.exchange = exchange
        self.symbols = list(symbols)
        self.backoff = backoff or Backoff()
        self.failures = 0

    async def ticks(self) -> AsyncIterator[PriceTick | StreamRejection]:
        client = self.exchange.client
        unified = {await self.exchange.unified(s): s for s in self.symbols}
        watch = (client.watch_tickers if self.exchange.config.venue is Venue.BYBIT
                 else client.watch_mark_prices)
        while True:
            try:
                tickers = await watch(list(unified))
            except (ccxt.NetworkError, ccxt.ExchangeError):
                self.failures += 1
                await asyncio.sleep(self.backoff.delay(self.failures))
                continue
            self.failures = 0
            for name, ticker in tickers.items():
                symbol = unified.get(name)
                tick = parse_tick(self.exchange.venue, symbol, ticker) if symbol else None
                if tick is None:
                    yield StreamRejection(self.feed, "ticker without a price", repr(ticker.get("info")))
                else:
                    yield tick
