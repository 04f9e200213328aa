"""Reconciliation: every exchange position report is recorded, then compared with what warden tracks.

- **Phantom**: the exchange holds a position no open warden position tracks (the seed's BTCUSDT).
  Recorded as `PhantomDetected` with the configured policy: alert, adopt (track it in FILLED and
  protect it at once) or close (adopt, then close it at market). A pushed report is confirmed by a
  REST query first, and the venue's answer is what is adopted: a push can be older than warden's
  own close of the symbol (one of its pieces, queued while the close ran), and the venue may hold
  more by now (when the venue cannot be asked, the push is taken as it is).
- **Ghost**: warden tracks a filled position the exchange reports flat. Confirmed by a fresh REST
  query first, a snapshot's answer too (it may have been asked before the position filled; a
  failed query is never "flat"); every order warden left for it is removed from the venue
  and the close recorded with the reason the venue's closing order gives (its stop, a
  liquidation, a hand or other-client order), the exit price read from its fills (`engine.exits`).
- **Mismatch**: side or size differ: recorded as `PositionMismatch` (alert only).
- **A close still pending**: warden decided to close a position and the venue does not show it flat
  (the close ran out of rounds: the venue kept refusing, or more of the position kept arriving).
  Taken up again in the background at every report and snapshot until it is flat: a position
  warden is closing has no stop, so it is never left to wait for a restart.
Reports for untracked symbols are never skipped: they are how phantoms are found.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from uuid import UUID

from warden.domain.account import ExchangeAccount
from warden.domain.ids import account_id
from warden.domain.lifecycle import Intent
from warden.domain.position import Position
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason, Origin, PhantomPolicy, PriceSource
from warden.engine.closing import Closer
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure
from warden.engine.open_saga import OpenSaga

log = logging.getLogger("warden.reconcile")


class Reconciler:
    def __init__(self, ctx: EngineContext, saga: OpenSaga, closer: Closer) -> None:
        self.ctx, self.saga, self.closer = ctx, saga, closer
        self.accounts: dict[tuple[str, str], ExchangeAccount] = {}
        self.last_snapshot: dict[tuple[str, str], float] = {}
        self._seen_phantoms: set[tuple[str, str, str]] = set()
        self._seen_mismatch: set[tuple[object, Decimal]] = set()
        self._liquidation: dict[tuple[str, str, str], Decimal] = {}  # last reported, per symbol
        # the mark of each symbol's latest snapshot, with the monotonic time it was taken (a
        # snapshot that changed nothing else is not recorded, its mark is still the venue's latest)
        self.snapshot_marks: dict[tuple[str, str, str], tuple[float, Decimal]] = {}
        self._latest: dict[tuple[str, str, str], PositionReport] = {}
        self._workers: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._loading = asyncio.Lock()
        self._closes: dict[UUID, asyncio.Task[None]] = {}  # pending closes taken up again

    async def account(self, venue: str, account: str) -> ExchangeAccount:
        """The account's aggregate: read from the store the first time (off the event loop;
        `StoreUnavailable` when it cannot be read, never a new account beside the recorded one),
        registered when nothing is recorded for it yet."""
        key = (venue, account)
        found = self.accounts.get(key)
        if found is not None:
            return found
        async with self._loading:  # one read at a time: two first reports register it once
            if key not in self.accounts:
                loaded = await self.ctx.load(account_id(venue, account))
                if loaded is None:
                    loaded = ExchangeAccount.register(venue=venue, account=account, at=self.ctx.now())
                    self.ctx.record(loaded)  # later saves of it queue behind
                self.accounts[key] = loaded
        return self.accounts[key]

    async def on_report(self, report: PositionReport) -> None:
        """One report from a websocket push: recorded at once, compared in the background.

        Comparing may wait for a position's lock (a saga talking to the exchange) or ask the
        exchange itself; doing it inline would hold up every other report of the feed. One worker
        per symbol compares the latest report (older ones waiting behind it are superseded).
        """
        account = await self.account(report.venue, report.account)
        account.record(report, at=report.exchange_time or self.ctx.now())
        await self.ctx.save(account)
        key = (report.venue, report.account, report.symbol)
        self._latest[key] = report
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(account, key))

    async def _work(self, account: ExchangeAccount, key: tuple[str, str, str]) -> None:
        try:
            while key in self._latest:
                report = self._latest.pop(key)
                try:
                    await self._compare(account, key[2], report)
                except Exception:  # one bad comparison must not stop the next ones
                    log.exception("reconciling %s failed", "/".join(key))
        finally:
            self._workers.pop(key, None)

    def untracked(self, venue: str, account: str, symbol: str) -> bool:
        """Is ``symbol`` open on the venue as a phantom warden has not taken on (policy alert)?"""
        return (venue, account, symbol) in self._seen_phantoms and \
            not self.ctx.tracked(venue, account, symbol)

    @property
    def busy(self) -> bool:
        return bool(self._workers or self._closes)

    def _background(self) -> list[asyncio.Task[None]]:
        return [*self._workers.values(), *self._closes.values()]

    async def settle(self) -> None:
        """Wait for the background comparisons and closes (tests and graceful shutdown)."""
        while self.busy:
            await asyncio.gather(*self._background(), return_exceptions=True)

    async def stop(self) -> None:
        tasks = self._background()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def snapshot(self, venue: str, account_name: str) -> bool:
        """A full REST snapshot, recorded and reconciled. False when the venue could not be asked."""
        try:
            reports = await self.ctx.ports[venue, account_name].fetch_positions()
        except ExchangeFailure:
            return False
        await self.apply_snapshot(venue, account_name, reports)
        return True

    async def apply_snapshot(self, venue: str, account_name: str, reports: list[PositionReport]) -> None:
        """Record and reconcile a snapshot taken elsewhere (e.g. by a stream after it reconnected)."""
        account = await self.account(venue, account_name)
        taken = self.ctx.clock.monotonic()
        for report in reports:
            if report.mark_price and not report.is_flat:
                self.snapshot_marks[venue, account_name, report.symbol] = (taken, report.mark_price)
        if account.record_snapshot(reports, at=self.ctx.now()):  # only when something changed
            await self.ctx.save(account)
        by_symbol = {r.symbol: r for r in reports}
        symbols = set(by_symbol) | {p.symbol for p in self.ctx.positions.values()
                                    if (p.venue, p.account) == (venue, account_name)}
        for symbol in sorted(symbols):
            await self._compare(account, symbol, by_symbol.get(symbol), confirmed=True)
        self.last_snapshot[venue, account_name] = self.ctx.clock.monotonic()

    async def _compare(self, account: ExchangeAccount, symbol: str, report: PositionReport | None,
                       *, confirmed: bool = False) -> None:
        tracked = self.ctx.tracked(account.venue, account.account, symbol)
        if report is not None and report.liquidation_price:
            self._liquidation[account.venue, account.account, symbol] = report.liquidation_price
        if report is None or report.is_flat:
            self._seen_phantoms.discard((account.venue, account.account, symbol))
            for p in tracked:
                if p.filled_qty > 0:
                    await self._ghost(p)
        elif not tracked:
            await self._phantom(account, report, confirmed=confirmed)
        elif tracked[0].pending_intent is Intent.CLOSE:
            self._close_again(tracked[0])  # the close settles the size: no mismatch to flag
        else:
            await self._check_mismatch(account, tracked[0], report)

    async def _ghost(self, p: Position) -> None:
        # Asked again even after a snapshot: a REST answer is of the moment it was asked, and a
        # snapshot can be read after the position filled (a stream's resync asked while the entry
        # was on its way, soak seed 10618). Only a query sent after the fill shows it closed;
        # before that its stops are never touched.
        try:
            if not await self.closer.is_flat(p):
                return
        except ExchangeFailure:
            return  # a failed query is never "flat": the next report or snapshot retries
        async with self.ctx.lock(p.id):
            if not p.is_open:
                return
            if p.pending_intent is Intent.CLOSE:
                await self.closer.finish(p)
                return
            # the last reported liquidation price only helps if the venue describes no order
            liquidation = self._liquidation.get((p.venue, p.account, p.symbol))
            await self.closer.exits.record_closed(p, liquidation_price=liquidation)

    def _close_again(self, p: Position) -> None:
        """Take up ``p``'s pending close in the background (it may take its rounds), unless it is
        running already (its lock is held, or it is being taken up)."""
        if p.id in self._closes or self.ctx.lock(p.id).locked():
            return
        task = asyncio.create_task(self._finish_close(p), name=f"close:{p.id}")
        self._closes[p.id] = task
        task.add_done_callback(lambda _: self._closes.pop(p.id, None))

    async def _finish_close(self, p: Position) -> None:
        async with self.ctx.lock(p.id):
            try:
                await self.closer.finish(p)  # nothing to do when it was settled meanwhile
            except Exception:  # logged here, not lost in a task: the next report or snapshot retries
                log.exception("closing %s %s again failed", p.venue, p.symbol)

    async def _confirmed(self, report: PositionReport) -> PositionReport | None:
        """What the venue says now of a pushed report's symbol: its open position there, or None
        when it holds none (the push is stale). The push itself when the venue cannot be asked: a
        phantom is not left unflagged for a failed query (a stale one adopted then is a ghost the
        next snapshot closes)."""
        try:
            reports = await self.ctx.ports[report.venue, report.account].fetch_positions()
        except ExchangeFailure:
            return report
        return next((r for r in reports if r.symbol == report.symbol and not r.is_flat), None)

    async def _phantom(self, account: ExchangeAccount, report: PositionReport, *,
                       confirmed: bool) -> None:
        key = (report.venue, report.account, report.symbol)
        if key in self._seen_phantoms:
            return
        if not confirmed:
            venue_report = await self._confirmed(report)
            if venue_report is None or key in self._seen_phantoms or \
                    self.ctx.tracked(report.venue, report.account, report.symbol):
                return  # stale, or taken on meanwhile (a snapshot)
            report = venue_report
        self._seen_phantoms.add(key)
        policy = self.ctx.config_for(report.venue, report.account).phantom_policy
        instrument = self.ctx.instrument(report.venue, report.symbol)
        entry = report.entry_price or report.mark_price
        if instrument is None or entry is None or report.side is None:
            policy = PhantomPolicy.ALERT  # nothing to adopt it with
        account.record_phantom(report, action=policy, at=self.ctx.now())
        await self.ctx.save(account)
        if policy is PhantomPolicy.ALERT:
            return
        p = Position.adopt(venue=report.venue, account=report.account, symbol=report.symbol,
                           side=report.side, quantity=report.size, entry_price=entry,
                           price_source=PriceSource.POSITION, instrument=instrument, at=self.ctx.now(),
                           raw=report.raw)
        self.ctx.positions[p.id] = p
        await self.ctx.save(p)
        async with self.ctx.lock(p.id):
            if policy is PhantomPolicy.ADOPT:
                await self.saga.protect(p)
            else:
                await self.closer.close(p, CloseReason.PHANTOM_CLOSED)

    async def _follow_growth(self, p: Position, report: PositionReport) -> None:
        """An adopted position grew on the venue: warden takes the venue's size and resizes its stop
        to cover all of it (a Bybit position stop already does; a stop order is replaced)."""
        lock = self.ctx.lock(p.id)
        if lock.locked():
            return  # busy (being protected, trailed, closed): never wait here, the reconciler would
            # stall behind it; the next report or snapshot sees the size again
        async with lock:
            if not p.is_open or p.pending_intent is not None or report.size <= p.filled_qty:
                return  # changed while waiting for the lock: the next report decides again
            p.follow_adopted_size(size=report.size, entry_price=report.entry_price, at=self.ctx.now(),
                                  raw=report.raw)
            await self.ctx.save(p)
            if p.is_protected:
                await self.saga.stops.resize(p)

    async def _check_mismatch(self, account: ExchangeAccount, p: Position, report: PositionReport) -> None:
        if p.filled_qty == 0 or (report.side is p.side and report.size == p.filled_qty):
            return
        if p.exit_resting and report.side is p.side and report.size < p.filled_qty:
            return  # the aged exit's order has filled in part: expected, not a mismatch
        if p.pending_intent is Intent.SCALE_IN:
            return  # the added quantity is on its way: its fill settles the size
        if p.origin is Origin.ADOPTED and report.side is p.side and report.size > p.filled_qty:
            await self._follow_growth(p, report)  # a hand order found while still filling
            return
        key = (p.id, report.size)
        if key in self._seen_mismatch:
            return
        self._seen_mismatch.add(key)
        account.record_mismatch(report, position_id=p.id, expected_side=p.side, expected_size=p.filled_qty,
                         at=self.ctx.now())
        await self.ctx.save(account)
