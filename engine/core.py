"""The engine: signals, exchange reports and mark prices in; recorded decisions out.

`Engine.start` rebuilds every open position from the store, reconciles each account against a
REST snapshot, and resumes unfinished sagas and intents before `ready` lets signals in. After
that, callers feed it: `submit` (signals), `on_position_report` (websocket or REST reports),
`on_mark` (mark prices) and `tick` (the clock: aged exits and periodic reconciliation).

The engine reads the store only off the event loop (`EventStore.read`, `EngineContext.load`). A
signal waits at most `SIGNAL_STORE_WAIT_S` for the store (its duplicate check and its save): after
that it is answered `StoreUnavailable` (503, retry later) and its save withdrawn; should the save
commit after all, the position is closed before anything is sent (`EntryRejected`, code
``store_unavailable``), so the answer holds: that signal is never opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

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
SIGNAL_STORE_WAIT_S = 1.0  # the longest a signal waits for the store before its 503
LATE = "store_unavailable"  # EntryRejected's code for a signal answered 503 whose save landed later
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
        self.saga = OpenSaga(self.ctx, self.closer, self.stops, self.known_mark)
        self.scale_in = ScaleIn(self.ctx, self.saga, self.stops)
        self.tapes = PriceTapes(self.ctx, self.ctx.config.tape_interval_s)
        self.trailing = TrailingProcess(self.ctx, self.stops, self.tapes)
        self.aged = AgedProcess(self.ctx, self.closer)
        self.reconciler = Reconciler(self.ctx, self.saga, self.closer)
        self.ready = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._arrived: dict[tuple[str, str], float] = {}  # when the frame of each latest mark arrived
        self._signal_book: SignalBook | None = None
        # refusals whose day's book could not be read (the store was down): recorded once it is up
        self._unrecorded: deque[tuple[str | None, str, Any, datetime]] = deque(maxlen=UNRECORDED_KEPT)
        self._book_lock = asyncio.Lock()
        self._draining: asyncio.Task[None] | None = None
        self.signal_wait_s = SIGNAL_STORE_WAIT_S
        self._unsettled: set[UUID] = set()  # signals answered 503 whose save is not settled yet
        self._closed_late: set[UUID] = set()  # ... whose save landed after all: closed unopened

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
        # a read of the whole log (or the read model): off the loop, as long as it takes
        await self.ctx.store.read(self._load_open_positions, wait_s=None)
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
        """From the positions read model when one is wired in, else by scanning the log (blocks:
        run in a thread)."""
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
        store = self.ctx.store
        if not store.available:  # no new position while nothing can be recorded
            raise StoreUnavailable(f"store unavailable ({store.unavailable_reason}), retry later")
        deadline = asyncio.get_running_loop().time() + self.signal_wait_s
        at = received_at or self.ctx.now()
        signal_id = payload.get("signal_id") if isinstance(payload, dict) else None
        try:
            signal = parse_signal(payload, received_at=at)
            pid = position_id(signal.venue, signal.account, signal.signal_id)
            if pid in self._unsettled:
                raise StoreUnavailable(f"store unavailable (signal {signal.signal_id}'s earlier save is "
                                       "not settled yet), retry later")
            if await store.read(store.has_events, pid, wait_s=_left(deadline)):
                return await self._duplicate(signal, pid, at, deadline)
            open_already = self._open_on_symbol(signal)
            if open_already is not None:
                return await self._scale_in(signal, open_already, pid, at, deadline)
            position = self._open(signal)
        except (InvalidSignal, DomainError) as e:
            recording = self.record_rejection(signal_id if isinstance(signal_id, str) else None, str(e),
                                              payload, at)
            if recording is not None:  # recorded before it is answered, if the store lets it
                with contextlib.suppress(TimeoutError, StoreUnavailable):
                    await asyncio.wait_for(asyncio.shield(recording), _left(deadline))
            return SignalOutcome("rejected", reason=str(e))
        if position.id in self.ctx.positions:  # the same signal, its save still in flight
            return SignalOutcome("duplicate", position.id)
        # tracked before the await: a signal for the same symbol meanwhile sees this one
        self.ctx.positions[position.id] = position
        try:
            await self._save_first(position, deadline)
        except BaseException as e:
            self.ctx.positions.pop(position.id, None)
            if isinstance(e, IntegrityError):
                return SignalOutcome("duplicate", position.id)
            raise
        self._track(asyncio.create_task(self.saga.advance(position), name=f"saga:{position.id}"))
        return SignalOutcome("accepted", position.id)

    async def _save_first(self, aggregate: Position | SignalClaim, deadline: float) -> None:
        """A signal's first save (its new position, or its claim on an open one), waited for until
        ``deadline``. After that the signal is answered 503 and the save withdrawn; if it commits
        all the same, a position is closed before anything is sent (a claim adds nothing without
        its position's intent), and the bot's retry of that signal id is refused, never opened."""
        committed = self.ctx.commit(aggregate)
        try:
            await asyncio.wait_for(asyncio.shield(committed), _left(deadline))
            return
        except TimeoutError:
            pass
        self.ctx.store.withdraw(committed)
        self._unsettled.add(aggregate.id)
        committed.add_done_callback(lambda done: self._settle_late(aggregate, done))
        raise StoreUnavailable(f"store unavailable (no commit within {self.signal_wait_s:g} s), "
                               "retry later")

    def _settle_late(self, aggregate: Position | SignalClaim, done: asyncio.Future[list[Any]]) -> None:
        self._unsettled.discard(aggregate.id)
        if done.cancelled() or done.exception() is not None:
            return  # withdrawn (or refused): nothing of it was written; a retry opens it normally
        log.warning("signal %s was answered 503 but its save committed later: nothing is opened",
                    aggregate.signal_id, extra={"position_id": str(aggregate.id)})
        self._closed_late.add(aggregate.id)
        if isinstance(aggregate, Position):
            aggregate.reject_entry(reason="answered 503 (store unavailable) before its save "
                                          "committed; not opened: send the signal again under a "
                                          "new signal id", code=LATE, at=self.ctx.now())
            self.ctx.record(aggregate)

    async def _duplicate(self, signal: Signal, pid: UUID, at: datetime, deadline: float) -> SignalOutcome:
        async with self._book_lock:
            book = await self._book_for(at)
            book.record_duplicate(signal_id=signal.signal_id, position_id=pid, raw=signal.raw, at=at)
            saved = self.ctx.save(book)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(saved, _left(deadline))
        if pid in self._closed_late:
            return SignalOutcome("rejected", pid, f"signal {signal.signal_id} was answered 503 during "
                                 "a store outage and recorded late, unopened: send it again under a "
                                 "new signal id")
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

    async def _scale_in(self, signal: Signal, p: Position, pid: UUID, at: datetime,
                        deadline: float) -> SignalOutcome:
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
                                             raw=signal.raw, claim=claim,
                                             save_claim=lambda c: self._save_first(c, deadline))
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
                         at: datetime) -> asyncio.Future[Any] | None:
        """Record a signal refused before it reached the engine (bad signature, stale, replayed...)
        or by it: nothing sent to warden is silently dropped. Returns what to await for it to be
        durable, or None when it is kept until the store can be read and written again. The day's
        book is read off the loop when it is not in memory; the refusals wait for it in order."""
        book = self._cached_book(at)
        if book is not None and not self._unrecorded and not self._book_lock.locked():
            book.reject(signal_id=signal_id, reason=reason, raw=payload, at=at)
            return self.ctx.record(book)
        self._unrecorded.append((signal_id, reason, payload, at))
        if not self.ctx.store.available:
            return None  # kept: recorded by a later tick, once the store is back
        return asyncio.ensure_future(self._record_unrecorded())

    async def _record_unrecorded(self) -> None:
        """Record the refusals kept while the day's book was not in memory, oldest first; stops at
        the first that cannot be (the store is unavailable) and leaves it for a later tick."""
        saved: asyncio.Future[list[Any]] | None = None
        async with self._book_lock:
            while self._unrecorded:
                signal_id, reason, payload, at = self._unrecorded[0]
                try:
                    book = await self._book_for(at)
                except StoreUnavailable:
                    break
                self._unrecorded.popleft()
                book.reject(signal_id=signal_id, reason=reason, raw=payload, at=at)
                saved = self.ctx.record(book)
        if saved is not None:
            await saved

    def _cached_book(self, at: datetime) -> SignalBook | None:
        book = self._signal_book
        return book if book is not None and book.id == SignalBook.id_for(at.date()) else None

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

    async def _book_for(self, at: datetime) -> SignalBook:
        """The day's signal book (under ``_book_lock``): read off the loop when it is not in
        memory, opened when nothing is recorded for that day; `StoreUnavailable` when it cannot be
        read, never a second book beside the recorded one."""
        book = self._cached_book(at)
        if book is None:
            loaded = await self.ctx.load(SignalBook.id_for(at.date()))
            book = self._signal_book = loaded or SignalBook.open(at.date(), at=at)
        return book

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
        if self._unrecorded and self.ctx.store.available and \
                (self._draining is None or self._draining.done()):
            self._draining = asyncio.create_task(self._record_unrecorded(), name="refusals")
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


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (the loop's clock), at least a moment: a wait that is already
    over still lets what is ready answer."""
    return max(0.01, deadline - asyncio.get_running_loop().time())
