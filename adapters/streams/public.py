"""Public mark-price ticks for the trailing stop, through ccxt.pro.

Bybit: ``watch_tickers`` on ``tickers.<SYMBOL>`` (the ticker carries ``markPrice``). Binance USD-M:
``watch_mark_prices`` on ``<symbol>@markPrice@1s``. A tick carries the mark price when the venue
sent one and the last trade price otherwise, with its `PriceSource` saying which. After a dropped
connection the next watch reconnects and resubscribes (ccxt.pro), after a jittered backoff. A
feed that ends (its symbols changed) closes its connections, so the next feed's subscription is
the only one.

The feed is supervised like the private ones: a session that fails (the markets cannot be loaded
during a REST outage, ccxt raises something unexpected) or hears nothing for ``quiet_after``
seconds is torn down and started again, and `health` says what state the feed is in. Ticks wait in
a small queue; when the consumer falls behind the oldest are dropped (the latest price wins).

A tick older (by the venue's own timestamp) than one already handed over for its symbol is dropped
and counted (`FeedHealth.stale_frames`): a frame delayed or reordered on the way is not the price
any more, and a trailing move decided from it would be sent through the market.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import ccxt.async_support as ccxt

from warden.adapters.exchange import normalize
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.streams import frames
from warden.adapters.streams.ccxt_guard import FrameGuard, fail_connections, is_private_url
from warden.adapters.streams.events import Connection, PriceTick, StreamRejection
from warden.adapters.streams.rejections import Rejections
from warden.adapters.streams.supervision import Backoff, FeedHealth, supervise
from warden.domain.values import PriceSource, Venue

Tick = PriceTick | StreamRejection
# in every price frame of either venue (Bybit ``tickers.<SYMBOL>``, Binance ``markPriceUpdate``)
_PRICES_BYBIT, _PRICES_BINANCE = '"tickers.', '"markPriceUpdate"'


def _is_price_frame(data: str) -> bool:
    return _PRICES_BYBIT in data or _PRICES_BINANCE in data


def parse_tick(venue: str, symbol: str, ticker: dict[str, Any],
               arrived: float | None = None) -> PriceTick | None:
    """A tick from a ccxt ticker, raw ``info`` first; None when it has no usable price.
    ``arrived``: the monotonic time its frame came off the websocket."""
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
                     time=normalize.from_ms(ticker.get("timestamp")), raw=dict(info), arrived=arrived)


class MarkPriceStream:
    feed = "mark-price"

    def __init__(self, exchange: CcxtExchange, symbols: Iterable[str], *,
                 backoff: Backoff | None = None, quiet_after: float | None = None,
                 queue_size: int = 1_000) -> None:
        self.exchange = exchange
        self.symbols = list(symbols)
        self.backoff = backoff or Backoff()
        self.quiet_after = quiet_after or exchange.config.feed_quiet_s
        # Without prices the trailing stop stands still, but every stop stays on the venue: the
        # public feed is shown in the health report without making warden unhealthy.
        self.health = FeedHealth(self.feed, gating=False)
        self.queue: asyncio.Queue[Tick] = asyncio.Queue(queue_size)
        self.running = False  # while someone iterates `ticks`
        self.rejections = Rejections(self.feed, self.health, self._put)
        self._arrived: float | None = None  # monotonic: the oldest price frame not handed over yet
        self._latest: dict[str, datetime] = {}  # per symbol: the venue time of the newest tick

    async def ticks(self) -> AsyncIterator[Tick]:
        """Ticks (and rejected frames) until the consumer stops iterating."""
        guard = FrameGuard.of(self.exchange.client)
        guard.listen(self.owns, self)
        runner = asyncio.create_task(supervise(
            self._session, self.health, quiet_after=self.quiet_after, backoff=self.backoff,
            restarted=self._restarted), name=f"feed:{self.exchange.venue}/{self.feed}")
        self.running = True
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.running = False
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            guard.forget(self)
            # Its connections go with it. A feed ends when the tracked symbols change, and ccxt
            # keeps a subscription on its connection after the watch is gone: Binance's client
            # puts each new symbol set on a connection of its own, so every symbol already held
            # came twice (or more) and each change left a connection open.
            fail_connections(self.exchange.client, self.owns, f"{self.feed}: the feed ended")

    # -- what the frame guard asks ------------------------------------------------------------------
    def owns(self, url: str) -> bool:
        return not is_private_url(self.exchange.config.venue, url)

    def heard(self) -> None:
        self.health.heard()

    def screen(self, data: str | bytes) -> str | None:
        refusal = frames.screen(self.exchange.config.venue, data)
        if refusal is None and self._arrived is None and isinstance(data, str) and _is_price_frame(data):
            # the first price frame the next watch hands over: latency is measured from here
            self._arrived = self.health.monotonic()
        return refusal

    def reject(self, reason: str, data: str | bytes) -> None:
        text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
        self.rejections.add(StreamRejection(self.feed, reason, text))

    # -- the session ------------------------------------------------------------------------------
    async def _session(self) -> None:
        self.health.set(Connection.CONNECTING)
        client = self.exchange.client
        unified = {await self.exchange.unified(s): s for s in self.symbols}
        watch = (client.watch_tickers if self.exchange.config.venue is Venue.BYBIT
                 else client.watch_mark_prices)
        failures = 0
        while True:
            try:
                tickers = await watch(list(unified))
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                failures += 1
                self.health.reconnects += 1
                self.health.set(Connection.DISCONNECTED, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.backoff.delay(failures))
                continue
            failures = 0
            arrived, self._arrived = self._arrived or self.health.monotonic(), None
            self.health.set(Connection.CONNECTED)
            for name, ticker in tickers.items():
                symbol = unified.get(name)
                tick = parse_tick(self.exchange.venue, symbol, ticker, arrived) if symbol else None
                if tick is None:
                    self.reject("report: a ticker without a price", repr(ticker.get("info")))
                elif self._fresh(tick):
                    self._put(tick)

    def _fresh(self, tick: PriceTick) -> bool:
        """False for a tick the venue stamped before the newest one handed over for its symbol."""
        if tick.time is None:
            return True
        newest = self._latest.get(tick.symbol)
        if newest is not None and tick.time < newest:
            self.health.stale_frames += 1
            return False
        self._latest[tick.symbol] = tick.time
        return True

    async def _restarted(self, reason: str) -> None:
        self.health.set(Connection.RESTARTING, reason)
        fail_connections(self.exchange.client, self.owns, f"{self.feed} session restarted")

    def _put(self, item: Tick) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(item)
