"""The engine: signals, exchange reports and mark prices in; recorded decisions out.

`Engine.start` rebuilds every open position from the store, reconciles each account against a
REST snapshot, and resumes unfinished sagas and intents before `ready` lets signals in. After
that, callers feed it: `submit` (signals), `on_position_report` (websocket or REST reports),
`on_mark` (mark prices) and `tick` (the clock: aged exits and periodic reconciliation).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from warden.domain.errors import DomainError, InvalidSignal
from warden.domain.events import PositionAdopted, SignalAccepted
from warden.domain.ids import position_id
from warden.domain.instrument import Instrument
from warden.domain.intake import SignalBook, SignalClaim
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.reports import PositionReport, StopReport
from warden.domain.signal import Signal, parse_signal
from warden.domain.values import PositionMode, PriceSource
from warden.engine.aged import AgedProcess
from warden.engine.closing import Closer
from warden.engine.context import Clock, EngineConfig, EngineContext, SystemClock, no_checkpoint
from warden.engine.errors import Rejected, Retryable, StoreUnavailable, UnknownOutcome, UnsupportedAccount
from warden.engine.open_saga import OpenSaga
from warden.engine.ports import EventStore, ExchangePort
from warden.engine.reconcile import Reconciler
from warden.engine.scale_in import ScaleIn
from warden.engine.stops import StopKeeper
from warden.engine.tape import PriceTapes
from warden.engine.trailing import Mark, TrailingProcess

log = logging.getLogger("warden.engine")
RESUME_CONCURRENCY = 32  # positions resumed at once at start
UNRECORDED_KEPT = 10_000  # refusals kept for the store while it is down; the oldest go first
_CREATION_TOPICS = {f"{c.__module__}:{c.__qualname__}" for c in (SignalAccepted, PositionAdopted)}


async def _all(steps: Iterable[Awaitable[None]]) -> None:
    """Run ``steps`` side by side; each gets its turn even if another fails, then the first
    failure is raised."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


class NotReady(RuntimeError):
    """Signals are refused until the engine has reconciled and resumed after a start."""


@dataclass(frozen=True)
class SignalOutcome:
    status: str  # "accepted", "duplicate" or "rejected"
    position_id: UUID | None = None
    reason: str | None = None


class Engine:
    def __init__(self, store: EventStore, ports: dict[tuple[str, str], ExchangePort], *,
                 config: EngineConfig | None = None, clock: Clock | None = None,
                 checkpoint: Callable[[str], None] = no_checkpoint,
                 open_position_ids: Callable[[], Iterable[UUID]] | None = None,
                 account_configs: dict[tuple[str, str], EngineConfig] | None = None) -> None:
        self._open_position_ids = open_position_ids
        self.ctx = EngineContext(store, ports, config or EngineConfig(), clock or SystemClock(), checkpoint)
        self.ctx.account_configs.update(account_configs or {})
        self.closer = Closer(self.ctx)
        self.stops = StopKeeper(self.ctx, self.closer)
        self.saga = OpenSaga(self.ctx, self.closer, self.stops)
        self.scale_in = ScaleIn(self.ctx, self.saga, self.stops)
        self.tapes = PriceTapes(self.ctx, self.ctx.config.tape_interval_s)
        self.trailing = TrailingProcess(self.ctx, self.stops, self.tapes)
        self.aged = AgedProcess(self.ctx, self.closer)
        self.reconciler = Reconciler(self.ctx, self.saga, self.closer)
        self.ready = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._signal_book: SignalBook | None = None
        # refusals whose day's book could not be read (the store was down): recorded once it is up
        self._unrecorded: deque[tuple[str | None, str, Any, datetime]] = deque(maxlen=UNRECORDED_KEPT)

    @property
    def positions(self) -> dict[UUID, Position]:
        return self.ctx.positions

    # ----- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        for (venue, _), port in self.ctx.ports.items():
            while venue not in self.ctx.instruments:
                try:
                    self.ctx.instruments[venue] = await port.load_instruments()
                except Retryable:
                    await self.ctx.pause()
        self._load_open_positions()
        # accounts side by side: a start waits for one account's round trips, not for the sum
        await _all(self._check_position_mode(venue, account, port)
                   for (venue, account), port in self.ctx.ports.items())
        await _all(self._reconciled(venue, account) for venue, account in self.ctx.ports)
        # Each position resumes under its own lock, so they resume side by side: a cold start with
        # many positions waits for the venue's round trips RESUME_CONCURRENCY at a time, not one by
        # one (ccxt's own rate limiter still spaces the requests as the venue demands).
        gate = asyncio.Semaphore(RESUME_CONCURRENCY)
        listed = await self._listed_stops()

        async def resume(position: Position) -> None:
            async with gate:
                await self._resume(position, listed.get((position.venue, position.account)))

        await _all(resume(p) for p in list(self.ctx.positions.values()))
        self.ready = True

    async def _reconciled(self, venue: str, account: str) -> None:
        while not await self.reconciler.snapshot(venue, account):
            await self.ctx.pause()

    async def _listed_stops(self) -> dict[tuple[str, str], dict[str, list[StopReport]] | None]:
        """Each account's stops from one listing, accounts side by side: the start verifies every
        position from its account's listing instead of asking the venue once per position."""
        accounts = sorted({(p.venue, p.account) for p in self.ctx.positions.values()})
        listings = await asyncio.gather(*(self.stops.listed(*a) for a in accounts))
        return dict(zip(accounts, listings, strict=True))

    def _load_open_positions(self) -> None:
        """From the positions read model when one is wired in, else by scanning the log."""
        store = self.ctx.store
        if self._open_position_ids is not None:
            ids = list(self._open_position_ids())
        else:
            ids = list(store.ids_created_by(_CREATION_TOPICS))
        for aggregate_id in ids:
            position = store.load(aggregate_id)
            if position.is_open:
                self.ctx.positions[position.id] = position

    async def _check_position_mode(self, venue: str, account: str, port: ExchangePort) -> None:
        """Refuse an account in hedge mode: every order warden sends is one-way (positionIdx 0,
        positionSide BOTH), which such an account refuses or books on the wrong side."""
        symbols = sorted({p.symbol for p in self.ctx.tracked_on(venue, account)})
        while True:
            try:
                report = await port.fetch_position_mode(symbols)
                break
            except (Retryable, UnknownOutcome):
                await self.ctx.pause()
            except Rejected as e:  # e.g. a key without the permission: unknown is not one-way
                raise UnsupportedAccount(f"{venue}/{account}: cannot read the position mode: "
                                         f"{e.venue_message or e}") from None
        if report.mode is PositionMode.HEDGE:
            raise UnsupportedAccount(f"{venue}/{account} is in hedge mode ({report.shown_by}); warden "
                                     f"supports one-way mode only: {report.setting}")

    async def _resume(self, p: Position, listed: dict[str, list[StopReport]] | None = None) -> None:
        if p.status in (Status.PENDING, Status.FILLED):
            await self.saga.advance(p)
        elif p.pending_intent is Intent.CLOSE:
            async with self.ctx.lock(p.id):
                await self.closer.finish(p)
        elif p.pending_intent is Intent.SCALE_IN:
            await self.scale_in.resume(p)
        else:
            async with self.ctx.lock(p.id):
                await self.stops.verify(p, listed)
                await self.aged.resume(p)  # the aged exit's order: settled, or kept as it rests

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
        if not self.ctx.store.available:  # no new position while nothing can be recorded
            raise StoreUnavailable(f"store unavailable ({self.ctx.store.unavailable_reason}), retry later")
        at = received_at or self.ctx.now()
        signal_id = payload.get("signal_id") if isinstance(payload, dict) else None
        try:
            signal = parse_signal(payload, received_at=at)
            pid = position_id(signal.venue, signal.account, signal.signal_id)
            if await asyncio.to_thread(self.ctx.store.has_events, pid):  # a read: off the loop
                return await self._duplicate(signal, pid, at)
            open_already = self._open_on_symbol(signal)
            if open_already is not None:
                return await self._scale_in(signal, open_already, pid, at)
            position = self._open(signal)
        except (InvalidSignal, DomainError) as e:
            self.record_rejection(signal_id if isinstance(signal_id, str) else None, str(e), payload, at)
            await self.ctx.save()  # recorded before it is answered
            return SignalOutcome("rejected", reason=str(e))
        if position.id in self.ctx.positions:  # the same signal, its save still in flight
            return SignalOutcome("duplicate", position.id)
        # tracked before the await: a signal for the same symbol meanwhile sees this one
        self.ctx.positions[position.id] = position
        try:
            await self.ctx.save(position)
        except BaseException as e:
            self.ctx.positions.pop(position.id, None)
            if isinstance(e, IntegrityError):
                return SignalOutcome("duplicate", position.id)
            raise
        self._track(asyncio.create_task(self.saga.advance(position), name=f"saga:{position.id}"))
        return SignalOutcome("accepted", position.id)

    async def _duplicate(self, signal: Signal, pid: UUID, at: datetime) -> SignalOutcome:
        self._book(at).record_duplicate(signal_id=signal.signal_id, position_id=pid, raw=signal.raw,
                                        at=at)
        await self.ctx.save(self._book(at))
        return SignalOutcome("duplicate", pid)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._saga_done)

    def _open_on_symbol(self, signal: Signal) -> Position | None:
        """One venue position, one warden position: the open position warden tracks on this
        symbol and account (the venue nets a second order into it), if any. A position the venue
        holds that warden only alerted about (a phantom) refuses the signal outright."""
        tracked = self.ctx.tracked(signal.venue, signal.account, signal.symbol)
        if tracked:
            return tracked[0]
        if self.reconciler.untracked(signal.venue, signal.account, signal.symbol):
            raise InvalidSignal(f"{signal.symbol} is open on {signal.venue}/{signal.account} without "
                                "a warden position (a phantom left alone); a signal would net into it")
        return None

    async def _scale_in(self, signal: Signal, p: Position, pid: UUID, at: datetime) -> SignalOutcome:
        """A signal for a symbol with an open position: refused, unless the account's ``scale_in``
        policy lets a same-side signal add to it."""
        where = f"{signal.venue}/{signal.account}"
        if signal.side is not p.side:
            raise InvalidSignal(f"{signal.symbol} has an open {p.side.value} position {p.id} on {where}: "
                                f"a {signal.side.value} signal would net against it; close it first")
        if not self.ctx.config_for(signal.venue, signal.account).scale_in:
            raise InvalidSignal(f"{signal.symbol} already has an open position {p.id} on {where}: one "
                                "position per symbol (the account's scale_in policy would add to it)")
        quantity = self._quantity(signal, p.instrument)
        claim = SignalClaim.claim(claim_id=pid, signal_id=signal.signal_id, position_id=p.id, at=at)
        try:
            task = await self.scale_in.begin(p, signal_id=signal.signal_id, quantity=quantity,
                                             raw=signal.raw, claim=claim)
        except IntegrityError:
            return SignalOutcome("duplicate", pid)
        self._track(task)
        return SignalOutcome("accepted", p.id, reason=f"added to position {p.id} (scale-in)")

    def _saga_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The position stays as recorded; the next restart (or reconcile) resumes it.
            log.error("open saga %s failed", task.get_name(), exc_info=task.exception())

    def record_rejection(self, signal_id: str | None, reason: str, payload: Any,
                         at: datetime) -> asyncio.Future[list[Any]] | None:
        """Record a signal refused before it reached the engine (bad signature, stale, replayed...)
        or by it: nothing sent to warden is silently dropped. Returns the save to await for it to be
        durable, or None when it is kept until the store can be read and written again."""
        if not self.ctx.store.available and not self._book_cached(at):
            self._unrecorded.append((signal_id, reason, payload, at))  # reading the book would block
            return None
        self._record_unrecorded()
        book = self._book(at)
        book.reject(signal_id=signal_id, reason=reason, raw=payload, at=at)
        return self.ctx.record(book)

    def _record_unrecorded(self) -> None:
        while self._unrecorded and self.ctx.store.available:
            signal_id, reason, payload, at = self._unrecorded.popleft()
            book = self._book(at)
            book.reject(signal_id=signal_id, reason=reason, raw=payload, at=at)
            self.ctx.record(book)

    def _book_cached(self, at: datetime) -> bool:
        return self._signal_book is not None and self._signal_book.id == SignalBook.id_for(at.date())

    def _open(self, signal: Signal) -> Position:
        if (signal.venue, signal.account) not in self.ctx.ports:
            raise InvalidSignal(f"no exchange account {signal.venue}/{signal.account} is configured")
        instrument = self.ctx.instrument(signal.venue, signal.symbol)
        if instrument is None:
            raise InvalidSignal(f"{signal.symbol} is not a linear perpetual on {signal.venue}")
        return Position.open(venue=signal.venue, account=signal.account, signal_id=signal.signal_id,
                             symbol=signal.symbol, side=signal.side,
                             quantity=self._quantity(signal, instrument),
                             instrument=instrument, at=signal.at,
                             stop_loss_percent=signal.stop_loss_percent,
                             trailing_activation_percent=signal.trailing_activation_percent,
                             trailing_callback_percent=signal.trailing_callback_percent, raw=signal.raw)

    def _quantity(self, signal: Signal, instrument: Instrument) -> Decimal:
        quantity = signal.quantity
        if quantity is None:
            mark = self._last_mark(signal.venue, signal.account, signal.symbol)
            if mark is None:
                raise InvalidSignal(f"no recent price for {signal.symbol}: give a quantity")
            quantity = instrument.round_qty(signal.notional / mark)
        if instrument.round_qty(quantity) != quantity or quantity < instrument.min_qty:
            raise InvalidSignal(f"{signal.symbol}: quantity {quantity} is not a tradable multiple of "
                                f"{instrument.qty_step} >= {instrument.min_qty}")
        return quantity

    def last_price(self, venue: str, symbol: str) -> Decimal | None:
        """The latest price the engine was given for ``symbol`` on ``venue``."""
        return self._marks.get((venue, symbol))

    def _last_mark(self, venue: str, account: str, symbol: str) -> Decimal | None:
        report = self.reconciler.account(venue, account).open_positions().get(symbol)
        return self._marks.get((venue, symbol)) or (report.mark_price if report else None)

    def _book(self, at: datetime) -> SignalBook:
        book_id = SignalBook.id_for(at.date())
        if self._signal_book is None or self._signal_book.id != book_id:
            try:
                self._signal_book = self.ctx.store.load(book_id)
            except AggregateNotFoundError:  # the first of the day; any other store error propagates
                self._signal_book = SignalBook.open(at.date(), at=at)
        return self._signal_book

    async def on_position_report(self, report: PositionReport, *, arrived: float | None = None) -> None:
        await self.reconciler.on_report(report)
        if report.mark_price is not None and not report.is_flat:
            await self.on_mark(report.venue, report.symbol, report.mark_price,
                               at=report.exchange_time or self.ctx.now(), account=report.account,
                               source=PriceSource.WEBSOCKET, arrived=arrived)

    async def on_mark(self, venue: str, symbol: str, price: Decimal, *, at: datetime,
                      account: str | None = None, source: PriceSource = PriceSource.MARK,
                      arrived: float | None = None) -> None:
        """A price of ``symbol``: on its tape by the tape rule, and offered to each position on it,
        whose lane decides (`engine.lanes`); returns without waiting for any decision.
        ``arrived`` is the monotonic time the frame came off the websocket (now when not given)."""
        if not price.is_finite() or price <= 0:
            return  # the feeds refuse such a frame; nothing to record or decide
        arrived = self.ctx.clock.monotonic() if arrived is None else arrived
        self._marks[venue, symbol] = price
        mark = Mark(price, source, at, arrived)
        for p in list(self.ctx.positions.values()):
            if p.venue == venue and p.symbol == symbol and account in (None, p.account):
                self.trailing.offer(p, mark)
        # after the offers: a tape whose save fails holds up no position's decision
        self.tapes.observe(venue, symbol, price, source, at, arrived)

    async def tick(self) -> None:
        self._record_unrecorded()
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
