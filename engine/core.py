"""The engine: signals, exchange reports and mark prices in; recorded decisions out.

`Engine.start` (`engine.startup`) rebuilds every open position from the store, reconciles each
account against a REST snapshot, and resumes unfinished sagas and intents before `ready` lets
signals in. After that, callers feed it: `submit` (signals, `engine.signals`),
`on_position_report` (websocket or REST reports), `on_mark` (mark prices) and `tick` (the clock:
aged exits, periodic reconciliation, refusals kept while the store was down).

The engine reads the store only off the event loop (`EventStore.read`, `EngineContext.load`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from warden.domain.lifecycle import Intent
from warden.domain.position import Position
from warden.domain.reports import PositionReport
from warden.domain.values import PriceSource
from warden.engine.aged import AgedProcess
from warden.engine.closing import Closer
from warden.engine.context import Clock, EngineConfig, EngineContext, SystemClock, no_checkpoint
from warden.engine.open_saga import OpenSaga
from warden.engine.ports import EventStore, ExchangePort
from warden.engine.reconcile import Reconciler
from warden.engine.scale_in import ScaleIn
from warden.engine.signals import NotReady, SignalDesk, SignalOutcome
from warden.engine.startup import Startup
from warden.engine.stops import StopKeeper
from warden.engine.tape import PriceTapes
from warden.engine.trailing import Mark, TrailingProcess

__all__ = ["Engine", "NotReady", "SignalOutcome"]
log = logging.getLogger("warden.engine")


class Engine:
    def __init__(self, store: EventStore, ports: dict[tuple[str, str], ExchangePort], *,
                 config: EngineConfig | None = None, clock: Clock | None = None,
                 checkpoint: Callable[[str], None] = no_checkpoint,
                 open_position_ids: Callable[[], Iterable[UUID]] | None = None,
                 account_configs: dict[tuple[str, str], EngineConfig] | None = None) -> None:
        self.ctx = EngineContext(store, ports, config or EngineConfig(), clock or SystemClock(), checkpoint)
        self.ctx.account_configs.update(account_configs or {})
        self.closer = Closer(self.ctx)
        self.stops = StopKeeper(self.ctx, self.closer, self.known_mark)
        self.saga = OpenSaga(self.ctx, self.closer, self.stops)
        self.scale_in = ScaleIn(self.ctx, self.saga, self.stops)
        self.tapes = PriceTapes(self.ctx, self.ctx.config.tape_interval_s)
        self.trailing = TrailingProcess(self.ctx, self.stops, self.tapes)
        self.aged = AgedProcess(self.ctx, self.closer)
        self.reconciler = Reconciler(self.ctx, self.saga, self.closer)
        self.signals = SignalDesk(self.ctx, self.saga, self.scale_in, self.reconciler,
                                  track=self._track, last_mark=self._last_mark)
        self._startup = Startup(self.ctx, self.saga, self.closer, self.stops, self.scale_in, self.aged,
                                self.reconciler, open_position_ids)
        self.ready = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._arrived: dict[tuple[str, str], float] = {}  # when the frame of each latest mark arrived

    @property
    def positions(self) -> dict[UUID, Position]:
        return self.ctx.positions

    @property
    def signal_wait_s(self) -> float:
        """The longest a signal waits for the store before its 503 (`SIGNAL_STORE_WAIT_S`)."""
        return self.signals.wait_s

    @signal_wait_s.setter
    def signal_wait_s(self, seconds: float) -> None:
        self.signals.wait_s = seconds

    # ----- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._startup.run()
        self.ready = True

    async def stop(self) -> None:
        """Stop reacting: in-flight sagas finish or are cancelled; every stop stays on the exchange."""
        await self.trailing.stop()
        self.tapes.stop()
        await self.reconciler.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every saga started so far has finished and every position's lane has run
        the marks offered to it (tests and graceful shutdown)."""
        while self._tasks or self.reconciler.busy or self.trailing.lanes.working:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.reconciler.settle()
            await self.trailing.idle()
        await self.ctx.save()  # and every record queued so far is durable

    # ----- inputs -----------------------------------------------------------------------------
    async def submit(self, payload: Any, *, received_at: datetime | None = None) -> SignalOutcome:
        if not self.ready:
            raise NotReady("warden is reconciling; signals are accepted once it is ready")
        return await self.signals.submit(payload, received_at=received_at)

    def record_rejection(self, signal_id: str | None, reason: str, payload: Any,
                         at: datetime) -> asyncio.Future[Any] | None:
        """A signal refused before it reached the engine (bad signature, stale, replayed...):
        recorded (`SignalDesk.record_rejection`)."""
        return self.signals.record_rejection(signal_id, reason, payload, at)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._saga_done)

    def _saga_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The position stays as recorded; the next restart (or reconcile) resumes it.
            log.error("open saga %s failed", task.get_name(), exc_info=task.exception())

    def last_price(self, venue: str, symbol: str) -> Decimal | None:
        """The latest price the engine was given for ``symbol`` on ``venue``."""
        return self._marks.get((venue, symbol))

    def _last_mark(self, venue: str, account: str, symbol: str) -> Decimal | None:
        known = self.reconciler.accounts.get((venue, account))  # read at start
        report = known.open_positions().get(symbol) if known is not None else None
        return self._marks.get((venue, symbol)) or (report.mark_price if report else None)

    def known_mark(self, p: Position) -> Decimal | None:
        """The freshest price known for ``p``'s symbol without asking the venue: the latest mark
        or the latest REST snapshot's (after a restart it comes before the feed's first tick),
        else the account's last report of it."""
        key = (p.venue, p.symbol)
        seen = [m for m in ((self._arrived.get(key), self._marks.get(key)),
                            self.reconciler.snapshot_marks.get((p.venue, p.account, p.symbol)))
                if m is not None and m[0] is not None and m[1] is not None]
        if seen:
            return max(seen, key=lambda m: m[0])[1]
        return self._last_mark(p.venue, p.account, p.symbol)

    async def on_position_report(self, report: PositionReport, *, arrived: float | None = None) -> None:
        # Its mark first: the report's save waits for the store (all of an outage), and the feed's
        # next reports wait behind it. One that arrived before a mark already taken for the symbol
        # (from the mark feed meanwhile) is not the latest price: the decisions keep the newer one.
        key = (report.venue, report.symbol)
        if report.mark_price is not None and not report.is_flat and \
                (arrived is None or arrived >= self._arrived.get(key, float("-inf"))):
            await self.on_mark(report.venue, report.symbol, report.mark_price,
                               at=report.exchange_time or self.ctx.now(), account=report.account,
                               source=PriceSource.WEBSOCKET, arrived=arrived)
        await self.reconciler.on_report(report)

    async def on_mark(self, venue: str, symbol: str, price: Decimal, *, at: datetime,
                      account: str | None = None, source: PriceSource = PriceSource.MARK,
                      arrived: float | None = None) -> None:
        """A price of ``symbol``: on its tape by the tape rule, and offered to each position on it,
        whose lane decides (`engine.lanes`); returns without waiting for any decision.
        ``arrived`` is the monotonic time the frame came off the websocket (now when not given)."""
        if not price.is_finite() or price <= 0:
            return  # the feeds refuse such a frame; nothing to record or decide
        arrived = self.ctx.clock.monotonic() if arrived is None else arrived
        self._marks[venue, symbol], self._arrived[venue, symbol] = price, arrived
        mark = Mark(price, source, at, arrived)
        for p in list(self.ctx.positions.values()):
            if p.venue == venue and p.symbol == symbol and account in (None, p.account):
                self.trailing.offer(p, mark)
        # after the offers: a tape whose save fails holds up no position's decision
        self.tapes.observe(venue, symbol, price, source, at, arrived)

    async def tick(self) -> None:
        self.signals.drain()
        await self.aged.tick()
        self.trailing.sweep()
        interval = self.ctx.config.reconcile_interval_s
        for venue, account in self.ctx.ports:
            last = self.reconciler.last_snapshot.get((venue, account), float("-inf"))
            if self.ctx.clock.monotonic() - last >= interval and \
                    await self.reconciler.snapshot(venue, account):
                await self._verify_stops(venue, account)

    async def _verify_stops(self, venue: str, account: str) -> None:
        """Every reconcile interval: each protected position must still have its stop on the venue
        (someone may have cancelled it by hand); a missing one is put back. The account's stops
        are listed once; a position whose stop the listing does not show in place is asked about."""
        def due(p: Position) -> bool:
            # a stop intent left pending (its answer lost, the venue not askable then) is settled here
            return (p.venue, p.account) == (venue, account) and p.is_protected and \
                p.pending_intent in (None, Intent.STOP)

        if not any(due(p) for p in self.ctx.positions.values()):
            return
        listed = await self.stops.listed(venue, account)
        for p in list(self.ctx.positions.values()):
            if due(p):
                lock = self.ctx.lock(p.id)
                if lock.locked():
                    continue  # busy (closing, moving): the next interval checks it
                async with lock:
                    if p.is_open:
                        await self.stops.verify(p, listed)

