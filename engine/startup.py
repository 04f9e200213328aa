"""The engine's start: everything that must hold before the first signal is let in.

Instruments are loaded per venue; every open position is rebuilt from the store (off the loop);
each account is checked to be in one-way mode and reconciled against a REST snapshot; then every
position is resumed where its events left it (an open saga advanced, a close or scale-in finished,
a protected position's stop verified from one listing of its account's stops).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from warden.domain.events import PositionAdopted, SignalAccepted
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.reports import StopReport
from warden.domain.values import PositionMode
from warden.engine.aged import AgedProcess
from warden.engine.closing import Closer
from warden.engine.context import EngineContext
from warden.engine.errors import Rejected, Retryable, UnknownOutcome, UnsupportedAccount
from warden.engine.open_saga import OpenSaga
from warden.engine.ports import ExchangePort
from warden.engine.reconcile import Reconciler
from warden.engine.scale_in import ScaleIn
from warden.engine.stops import StopKeeper

RESUME_CONCURRENCY = 32  # positions resumed at once at start
_CREATION_TOPICS = {f"{c.__module__}:{c.__qualname__}" for c in (SignalAccepted, PositionAdopted)}


async def all_of(steps: Iterable[Awaitable[None]]) -> None:
    """Run ``steps`` side by side; each gets its turn even if another fails, then the first
    failure is raised."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


@dataclass
class Startup:
    ctx: EngineContext
    saga: OpenSaga
    closer: Closer
    stops: StopKeeper
    scale_in: ScaleIn
    aged: AgedProcess
    reconciler: Reconciler
    open_position_ids: Callable[[], Iterable[UUID]] | None = None

    async def run(self) -> None:
        for (venue, _), port in self.ctx.ports.items():
            while venue not in self.ctx.instruments:
                try:
                    self.ctx.instruments[venue] = await port.load_instruments()
                except Retryable:
                    await self.ctx.pause()
        # a read of the whole log (or the read model): off the loop, as long as it takes
        await self.ctx.store.read(self._load_open_positions, wait_s=None)
        # accounts side by side: a start waits for one account's round trips, not for the sum
        await all_of(self._check_position_mode(venue, account, port)
                     for (venue, account), port in self.ctx.ports.items())
        await all_of(self._reconciled(venue, account) for venue, account in self.ctx.ports)
        # Each position resumes under its own lock, so they resume side by side: a cold start with
        # many positions waits for the venue's round trips RESUME_CONCURRENCY at a time, not one by
        # one (ccxt's own rate limiter still spaces the requests as the venue demands).
        gate = asyncio.Semaphore(RESUME_CONCURRENCY)
        listed = await self._listed_stops()

        async def resume(position: Position) -> None:
            async with gate:
                await self._resume(position, listed.get((position.venue, position.account)))

        await all_of(resume(p) for p in list(self.ctx.positions.values()))

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
        if self.open_position_ids is not None:
            ids = list(self.open_position_ids())
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
