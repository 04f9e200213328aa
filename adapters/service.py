"""The running service: exchange streams and the clock feeding the engine, until told to stop.

`WardenService` consumes each account's private stream (position reports, fills, the REST
snapshot after every reconnect, rejected frames), follows mark prices for the symbols warden
tracks, ticks the engine (aged exits, periodic reconciliation), and answers health questions.
Every input is handled in isolation: one bad report is logged and counted, it never stops a feed.
Every feed supervises itself (`adapters/streams/supervision.py`); the health report reads each
feed's own `FeedHealth`, so it shows the state the feed is in now, not the last one queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.compare import Comparison, Discrepancy
from warden.adapters.streams.events import Connection, PositionSnapshot, StreamRejection, StreamStatus
from warden.adapters.streams.public import MarkPriceStream, PriceTick
from warden.adapters.streams.supervision import FeedHealth
from warden.domain.reports import FillReport, PositionReport
from warden.engine.core import Engine
from warden.projections.supervisor import Supervisor

log = logging.getLogger("warden.service")


@dataclass
class ServiceStats:
    handled: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


class WardenService:
    def __init__(self, engine: Engine, streams: list[PrivateStream], exchanges: list[CcxtExchange], *,
                 supervisor: Supervisor | None = None, tick_interval: float = 1.0,
                 symbols_interval: float = 1.0,
                 shadows: dict[PrivateStream, PrivateStream] | None = None,
                 compare_window: float = 2.0) -> None:
        """``shadows`` maps a feeding stream to a second one that only runs beside it for compare
        mode: its reports are matched against the feeding stream's, never given to the engine; an
        order, position or fill is compared once neither said anything new for ``compare_window``."""
        self.engine, self.streams, self.exchanges = engine, streams, exchanges
        self.supervisor = supervisor
        self.shadows = shadows or {}
        for shadow in self.shadows.values():
            shadow.health.gating = False  # it only runs beside the feed the engine trusts
        self._marks: dict[str, MarkPriceStream] = {}
        self.comparisons = {stream: Comparison(self._report, window=compare_window)
                            for stream in self.shadows}
        # each stream of a compare pair -> (its comparison, whether it is the baseline)
        self._sides = {**{s: (c, True) for s, c in self.comparisons.items()},
                       **{self.shadows[s]: (c, False) for s, c in self.comparisons.items()}}
        self.discrepancies: list[Discrepancy] = []
        self.discrepancy_observers: list[Callable[[Discrepancy], None]] = []
        self.tick_interval, self.symbols_interval = tick_interval, symbols_interval
        self.stats = ServiceStats()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        """Reconcile and resume (the engine refuses signals until then), then start every feed."""
        if self.supervisor is not None:
            self._tasks.append(asyncio.create_task(self.supervisor.run()))
            self.engine.ctx.listeners.append(lambda _: self.supervisor.wake())
        await self.engine.start()
        for stream in self.streams:
            await stream.start()
            self._tasks.append(asyncio.create_task(self._consume(stream)))
        for stream, shadow in self.shadows.items():
            await shadow.start()
            self._tasks.append(asyncio.create_task(self.comparisons[stream].run(self._consume(shadow))))
        for exchange in self.exchanges:
            self._tasks.append(asyncio.create_task(self._follow_marks(exchange)))
        self._tasks.append(asyncio.create_task(self._tick()))

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop the feeds, let in-flight sagas finish (or park them as intents), keep every stop."""
        self._stopped.set()
        for stream in [*self.streams, *self.shadows.values()]:
            await stream.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.engine.idle(), grace)
        await self.engine.stop()

    async def wait(self) -> None:
        await self._stopped.wait()

    # ----- feeds ------------------------------------------------------------------------------
    @staticmethod
    def _name(stream: PrivateStream) -> str:
        return f"{stream.port.venue}/{stream.port.account}/{stream.feed}"

    def feeds(self) -> dict[str, FeedHealth]:
        """Every running feed by name: the private ones, compare-mode candidates, mark prices."""
        private = {self._name(s): s.health for s in [*self.streams, *self.shadows.values()]}
        return {**private, **{name: m.health for name, m in self._marks.items() if m.running}}

    def feeds_down(self) -> list[str]:
        """The feeds the engine depends on that are not connected now."""
        return sorted(name for name, feed in self.feeds().items() if feed.gating and not feed.up)

    async def _consume(self, stream: PrivateStream) -> None:
        """Hand a feed's events to the engine; a compare-mode candidate's go to its comparison
        only, except its rejected frames and state changes: those are recorded and logged too."""
        name = self._name(stream)
        feeds_engine = stream in self.streams
        side = self._sides.get(stream)
        async for event in stream.events():
            arrived = stream.arrival(event)
            try:
                if feeds_engine or isinstance(event, StreamRejection | StreamStatus):
                    await self._handle(stream, name, event, arrived)
                    self.stats.handled[type(event).__name__] += 1
                if side is not None:
                    side[0].add(event, baseline=side[1])
            except Exception:  # one bad input must not stop the feed
                self.stats.failures[type(event).__name__] += 1
                log.exception("failed to handle %s from %s", type(event).__name__, name)

    async def _handle(self, stream: PrivateStream, name: str, event: Any,
                      arrived: float | None = None) -> None:
        venue, account = stream.port.venue, stream.port.account
        engine = self.engine
        if isinstance(event, PositionReport):
            await engine.on_position_report(event, arrived=arrived)
        elif isinstance(event, PositionSnapshot):
            await engine.reconciler.apply_snapshot(venue, account, list(event.positions))
        elif isinstance(event, FillReport):
            account_aggregate = await engine.reconciler.account(venue, account)
            account_aggregate.record_fill(event, at=event.time or engine.ctx.now())
            await engine.ctx.save(account_aggregate)
        elif isinstance(event, StreamRejection):
            await self._record_rejection(venue, account, event)
        elif isinstance(event, StreamStatus):
            level = logging.INFO if event.state in (Connection.CONNECTED, Connection.CONNECTING) \
                else logging.WARNING
            log.log(level, "feed %s %s%s", name, event.state.value,
                    f": {event.reason}" if event.reason else "")

    async def _record_rejection(self, venue: str, account: str, rejection: StreamRejection) -> None:
        """A feed's compact rejection record (the feed already limited how many come)."""
        engine = self.engine
        account_aggregate = await engine.reconciler.account(venue, account)
        account_aggregate.record_rejected_frame(
            feed=rejection.feed, reason=rejection.reason, raw_text=rejection.raw_text,
            size=rejection.size, sha256=rejection.sha256, unrecorded=rejection.unrecorded,
            at=engine.ctx.now())
        engine.ctx.record(account_aggregate)

    # ----- compare mode -------------------------------------------------------------------------
    def _report(self, discrepancy: Discrepancy) -> None:
        self.discrepancies.append(discrepancy)
        log.warning("feeds disagree: %s %s", discrepancy.kind.value, "/".join(discrepancy.key))
        for observe in self.discrepancy_observers:
            observe(discrepancy)

    async def _follow_marks(self, exchange: CcxtExchange) -> None:
        """Mark prices of the symbols tracked on this venue; re-subscribed when that set changes."""
        symbols: list[str] = []
        pump: asyncio.Task[None] | None = None
        try:
            while True:
                tracked = sorted({p.symbol for p in self.engine.positions.values()
                                  if p.venue == exchange.venue and p.account == exchange.account})
                if tracked != symbols:
                    if pump is not None:
                        pump.cancel()
                        await asyncio.gather(pump, return_exceptions=True)
                    symbols = tracked
                    pump = asyncio.create_task(self._pump_marks(exchange, symbols)) if symbols else None
                await asyncio.sleep(self.symbols_interval)
        finally:
            if pump is not None:
                pump.cancel()

    async def _pump_marks(self, exchange: CcxtExchange, symbols: list[str]) -> None:
        engine = self.engine
        feed = MarkPriceStream(exchange, symbols)
        self._marks[f"{exchange.venue}/{exchange.account}/{feed.feed}"] = feed
        async for tick in feed.ticks():
            try:
                if isinstance(tick, PriceTick):
                    at = tick.time or engine.ctx.now()
                    await engine.on_mark(tick.venue, tick.symbol, tick.price, at=at,
                                         account=exchange.account, source=tick.source,
                                         arrived=tick.arrived)
                else:
                    await self._record_rejection(exchange.venue, exchange.account, tick)
                self.stats.handled[type(tick).__name__] += 1
            except Exception:
                self.stats.failures[type(tick).__name__] += 1
                log.exception("failed to handle a mark price on %s", exchange.venue)

    async def _tick(self) -> None:
        store = self.engine.ctx.store
        was_available = True
        while True:
            await asyncio.sleep(self.tick_interval)
            if store.available and not was_available:
                # back after an outage: reconcile every account and verify every stop at once
                log.warning("the store is back: reconciling every account")
                self.engine.reconciler.last_snapshot.clear()
            was_available = store.available
            try:
                await self.engine.tick()
            except Exception:
                self.stats.failures["tick"] += 1
                log.exception("engine tick failed")

    # ----- health -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Safe to trade only when the store can be written, every private feed the engine depends
        on is connected, and the engine has reconciled recently. ``store_error`` says why the store
        cannot be written (the writer's last failure: answered at once, never by asking the store
        here); ``feeds_down`` names the feeds at fault; ``feeds`` shows every feed (compare-mode
        candidates and mark prices too, which report their state without making warden unhealthy)."""
        ctx = self.engine.ctx
        store_ok = ctx.store.available
        now = ctx.clock.monotonic()
        ages = {f"{v}/{a}": round(now - t, 1) for (v, a), t in self.engine.reconciler.last_snapshot.items()}
        pending = sum(1 for p in self.engine.positions.values() if p.pending_intent)
        down = self.feeds_down()
        stale = [k for k, age in ages.items() if age > 3 * ctx.config.reconcile_interval_s]
        projections = {s.name: s.lag for s in self.supervisor.status()} if self.supervisor else {}
        ok = store_ok and self.engine.ready and not down and not stale
        return {"ok": ok, "ready": self.engine.ready, "store": store_ok,
                "store_error": None if store_ok else f"store unavailable: {ctx.store.unavailable_reason}",
                "feeds_down": down,
                "feeds": {name: feed.report() for name, feed in sorted(self.feeds().items())},
                "projection_lag": projections,
                "last_reconcile_age_s": ages, "pending_intents": pending,
                "open_positions": len(self.engine.positions)}
