"""The signal desk: a signal in, a recorded answer out (accepted, duplicate or rejected).

A signal waits at most `SIGNAL_STORE_WAIT_S` for the store (its duplicate check and its save):
after that it is answered `StoreUnavailable` (503, retry later) and its save withdrawn; should the
save commit after all, the position is closed before anything is sent (`EntryRejected`, code
``store_unavailable``), so the answer holds: that signal is never opened. One venue position is
one warden position: a signal for a symbol already open on its account is refused, or added to
it by the account's ``scale_in`` policy. Every refusal is recorded in the day's `SignalBook`, the
ones made while the store is down once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from warden.domain.errors import DomainError, InvalidSignal
from warden.domain.ids import position_id
from warden.domain.instrument import Instrument
from warden.domain.intake import SignalBook, SignalClaim
from warden.domain.position import Position
from warden.domain.signal import Signal, parse_signal
from warden.engine.context import EngineContext
from warden.engine.errors import StoreUnavailable
from warden.engine.open_saga import OpenSaga
from warden.engine.reconcile import Reconciler
from warden.engine.scale_in import ScaleIn

log = logging.getLogger("warden.engine")
UNRECORDED_KEPT = 10_000  # refusals kept for the store while it is down; the oldest go first
SIGNAL_STORE_WAIT_S = 1.0  # the longest a signal waits for the store before its 503
LATE = "store_unavailable"  # EntryRejected's code for a signal answered 503 whose save landed later


class NotReady(RuntimeError):
    """Signals are refused until the engine has reconciled and resumed after a start."""


@dataclass(frozen=True)
class SignalOutcome:
    status: str  # "accepted", "duplicate" or "rejected"
    position_id: UUID | None = None
    reason: str | None = None


class SignalDesk:
    def __init__(self, ctx: EngineContext, saga: OpenSaga, scale_in: ScaleIn, reconciler: Reconciler,
                 *, track: Callable[[asyncio.Task[None]], None],
                 last_mark: Callable[[str, str, str], Decimal | None]) -> None:
        self.ctx, self.saga, self.scale_in, self.reconciler = ctx, saga, scale_in, reconciler
        self._track, self._last_mark = track, last_mark
        self.wait_s = SIGNAL_STORE_WAIT_S
        self._signal_book: SignalBook | None = None
        # refusals whose day's book could not be read (the store was down): recorded once it is up
        self._unrecorded: deque[tuple[str | None, str, Any, datetime]] = deque(maxlen=UNRECORDED_KEPT)
        self._book_lock = asyncio.Lock()
        self._draining: asyncio.Task[None] | None = None
        self._unsettled: set[UUID] = set()  # signals answered 503 whose save is not settled yet
        self._closed_late: set[UUID] = set()  # ... whose save landed after all: closed unopened

    async def submit(self, payload: Any, *, received_at: datetime | None = None) -> SignalOutcome:
        store = self.ctx.store
        if not store.available:  # no new position while nothing can be recorded
            raise StoreUnavailable(f"store unavailable ({store.unavailable_reason}), retry later")
        deadline = asyncio.get_running_loop().time() + self.wait_s
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
                return await self._add_to(signal, open_already, pid, at, deadline)
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
        raise StoreUnavailable(f"store unavailable (no commit within {self.wait_s:g} s), "
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

    async def _add_to(self, signal: Signal, p: Position, pid: UUID, at: datetime,
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

    def drain(self) -> None:
        """Called every tick: the refusals kept while the store was down are recorded once it is
        up again, by one task at a time."""
        if self._unrecorded and self.ctx.store.available and \
                (self._draining is None or self._draining.done()):
            self._draining = asyncio.create_task(self._record_unrecorded(), name="refusals")

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

    async def _book_for(self, at: datetime) -> SignalBook:
        """The day's signal book (under ``_book_lock``): read off the loop when it is not in
        memory, opened when nothing is recorded for that day; `StoreUnavailable` when it cannot be
        read, never a second book beside the recorded one."""
        book = self._cached_book(at)
        if book is None:
            loaded = await self.ctx.load(SignalBook.id_for(at.date()))
            book = self._signal_book = loaded or SignalBook.open(at.date(), at=at)
        return book


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (the loop's clock), at least a moment: a wait that is already
    over still lets what is ready answer."""
    return max(0.01, deadline - asyncio.get_running_loop().time())
