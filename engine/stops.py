"""Keeping a stop on the venue for every protected position: moves, resizes, restores, checks.

What warden promises for a position it has protected: warden itself never leaves it without a
stop on the venue.

- A stop is replaced (a trailing move, a resize after a scale-in) by placing the new one before
  the old one is removed (`ExchangePort.move_stop`); a refusal changes nothing on the venue.
- An outcome the venue did not confirm (a timeout, a lost answer, a dropped connection) is
  settled by asking the venue which stops it holds (`fetch_stops`), never assumed. When the venue
  cannot be asked, the intent stays pending and the periodic check (`verify`) asks again.
- Where the venue holds no stop for a protected position (cancelled by hand, or a move that died
  in between on an older warden), the recorded stop is put back; when no stop can be placed any
  more (every placement refused, e.g. the price is already through it), the position is closed
  at market (`CloseReason.UNPROTECTABLE`) with the venue's refusals as the reason.
- A stop is never sent through the price: before each placement that puts a stop back, the
  freshest price warden knows (`Engine.known_mark`) is compared with it. A stop that vanished
  while the price went through it most likely fired; the position is closed at market instead
  (which, when the venue is already flat, records the close the venue's own stop made).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal

from warden.domain.ids import client_order_id
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.reports import StopReport
from warden.domain.values import CloseReason, StopPurpose
from warden.engine.closing import Closer
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure, Rejected, refusal
from warden.engine.ports import StopMode

ASKS = 3  # tries at reading the venue's stops before leaving an intent to the periodic check


def breached_by(p: Position, stop: Decimal | None, *marks: Decimal | None) -> Decimal | None:
    """The first of ``marks`` already at or through ``stop`` (a long's stop >= the mark, a
    short's <= it), or None: a stop the venue must refuse, or trigger at once."""
    if stop is None:
        return None
    return next((m for m in marks if m is not None and p.side.sign * (m - stop) <= 0), None)


class StopKeeper:
    def __init__(self, ctx: EngineContext, closer: Closer,
                 marks: Callable[[Position], Decimal | None] | None = None) -> None:
        self.ctx, self.closer = ctx, closer
        self._marks = marks  # the freshest price warden knows for a position (`Engine.known_mark`)

    def known_mark(self, p: Position) -> Decimal | None:
        """The latest price warden knows for ``p``'s symbol without asking the venue: the
        engine's (`Engine.known_mark`: the mark its lanes decide from, else the account's last
        position report), else the last one the position recorded."""
        latest = self._marks(p) if self._marks is not None else None
        return latest if latest is not None else p.last_mark

    def client_id(self, p: Position) -> str | None:
        """The client id of the next stop order: derived from the position and the version its
        request will have, so the venue's listing tells which stop a request made. None where the
        stop is the position's own (a Bybit position stop has no order id)."""
        if self.ctx.port(p).stop_mode is StopMode.POSITION:
            return None
        return client_order_id(p.id, "stop", attempt=p.version + 1)

    async def venue_stops(self, p: Position, tries: int = ASKS) -> list[StopReport] | None:
        """The stops the venue holds for ``p``'s side, or None when it cannot be asked."""
        for attempt in range(tries):
            try:
                return [s for s in await self.ctx.port(p).fetch_stops(p.symbol) if s.side is p.side]
            except ExchangeFailure:
                if attempt + 1 < tries:
                    await self.ctx.pause()
        return None

    # ----- replacing the stop -------------------------------------------------------------------
    async def replace(self, p: Position, price: Decimal, reference: Decimal,
                      purpose: StopPurpose, passed: Callable[[], Decimal | None] | None = None) -> bool:
        """Put a stop at ``price`` for the whole position in place of the current one. True once
        the venue confirmed it (directly or when asked); False when refused (the old stop stands)
        or still unknown (the intent stays pending). ``passed`` is asked once the intent is
        durable (the save waits out a store outage): a price it names is through ``price``, so
        the request is withdrawn unsent (recorded refused by warden) and the old stop stands."""
        ctx, cid = self.ctx, self.client_id(p)
        p.request_stop(price=price, reference_price=reference, purpose=purpose, at=ctx.now(),
                       client_order_id=cid)
        await ctx.save(p)
        through = passed() if passed is not None else None
        if through is not None:
            p.reject_stop(price=price, code=None, at=ctx.now(),
                          reason=f"not sent: the price {through} passed it while its intent was saved")
            await ctx.save(p)
            return False
        current = StopReport(p.venue, p.symbol, p.side, p.stop_price, p.stop_order_id)
        try:
            placed = await ctx.port(p).move_stop(current, p.filled_qty, price, cid)
        except Rejected as e:
            await self.refused(p, price, e)
            return False
        except ExchangeFailure as e:
            await self.settle(p, f"not confirmed: {e}")
            return p.pending_intent is None and p.stop_price == price
        ctx.checkpoint("stop-replaced")  # on the venue, not yet recorded: a restart asks the venue
        await self.record(p, placed, reference)
        return True

    async def resize(self, p: Position) -> None:
        """After a scale-in the one stop must cover the new quantity: a stop order is replaced by
        one for the whole size at the same price (a Bybit position stop already covers it)."""
        for _ in range(self.ctx.config.stop_attempts):
            if p.stop_order_id is None or not p.is_open:
                return
            if await self.replace(p, p.stop_price, p.stop_reference, StopPurpose.RESIZE):
                return
            if p.pending_intent is Intent.STOP:
                return  # unknown: the periodic check settles it
            await self.ctx.pause()
        await self.closer.close(p, CloseReason.UNPROTECTABLE,
                                detail=f"the stop could not be resized to {p.filled_qty}")

    # ----- settling what the venue did not confirm ----------------------------------------------
    async def settle(self, p: Position, why: str) -> None:
        """A stop request whose outcome is unknown: record what the venue holds."""
        stops = await self.venue_stops(p)
        if stops is not None:
            await self._settle_from(p, stops, why)

    async def _settle_from(self, p: Position, stops: list[StopReport], why: str, *,
                           restore: bool = True) -> bool:
        """Record the requested stop if the venue holds it (True), else its rejection; a
        protected position the venue holds no stop for at all gets one back (``restore``)."""
        cid, requested = p.requested_stop_client_id, p.requested_stop
        found = [s for s in stops if cid is not None and s.client_order_id == cid] or \
            [s for s in stops if s.stop_price == requested]
        if found:
            await self.record(p, found[0], p.best_price if p.status in MOVING else p.stop_reference)
            await self._drop_superseded(p, stops)
            return True
        p.reject_stop(price=requested, code=None, at=self.ctx.now(),
                      reason=f"{why}; the venue holds {_listed(stops)}")
        await self.ctx.save(p)
        if restore and not stops and p.is_protected:
            await self.restore(p)
        return False

    # ----- the periodic check and a restart -----------------------------------------------------
    async def listed(self, venue: str, account: str) -> dict[str, list[StopReport]] | None:
        """Every stop the account holds, by symbol, from one listing (a few requests for the whole
        account); None when the venue cannot be asked now."""
        try:
            stops = await self.ctx.ports[venue, account].fetch_stops()
        except ExchangeFailure:
            return None
        by_symbol: dict[str, list[StopReport]] = {}
        for stop in stops:
            by_symbol.setdefault(stop.symbol, []).append(stop)
        return by_symbol

    async def verify(self, p: Position,
                     listed: dict[str, list[StopReport]] | None = None) -> None:
        """The venue must hold a stop for a protected position: settle a pending stop intent from
        what it holds, put the recorded stop back where it holds none (or, for a position stop,
        where it holds a looser one: a request that timed out and was processed after a newer
        one, or a hand edit), and cancel the older stops warden left beside the current one.

        ``listed``, the account's stops from one listing (`listed`), spares the venue a question
        per position where it shows the recorded stop in place; anything else is decided on a
        fresh ask of the symbol's stops, as the listing may predate a move made since."""
        if listed is not None and p.pending_intent is not Intent.STOP:
            stops = [s for s in listed.get(p.symbol, ()) if s.side is p.side]
            if _in_place(p, stops):
                await self._drop_superseded(p, stops)
                return
        stops = await self.venue_stops(p, tries=1)
        if stops is None:
            return  # cannot ask now: the next reconcile or restart asks again
        if p.pending_intent is Intent.STOP:
            await self._settle_from(p, stops, "not confirmed before it was checked")
        elif _in_place(p, stops):
            await self._drop_superseded(p, stops)
        elif stops:  # a position stop looser than the recorded one; never tightened past the price
            await self.replace(p, p.stop_price, p.stop_reference, StopPurpose.RESTORE,
                               passed=lambda: breached_by(p, p.stop_price, self.known_mark(p)))
        else:
            await self.restore(p)

    async def restore(self, p: Position) -> bool:
        """The venue holds no stop for ``p``: put the recorded one back (for the whole position).
        When every placement is refused, or the price is already through the stop (no valid stop
        is left that would not loosen it), close ``p`` at market and say why."""
        ctx, refusals = self.ctx, []
        for _ in range(ctx.config.stop_attempts):
            known = breached_by(p, p.stop_price, self.known_mark(p))
            if known is not None:  # never sent: the venue would refuse it or fill it at once
                refusals.append(f"not sent: the price {known} is already through the stop {p.stop_price}")
                break
            cid = self.client_id(p)
            p.request_stop(price=p.stop_price, reference_price=p.stop_reference,
                           purpose=StopPurpose.RESTORE, at=ctx.now(), client_order_id=cid)
            await ctx.save(p)
            try:
                placed = await ctx.port(p).place_stop(p.symbol, p.side, p.filled_qty, p.stop_price,
                                                      client_order_id=cid)
            except Rejected as e:
                refusals.append(await self.refused(p, p.stop_price, e))
                mark = await self._mark(p)
                if breached_by(p, p.stop_price, mark) is not None:
                    refusals.append(f"the price {mark} is through the stop {p.stop_price}")
                    break
                await ctx.pause()
                continue
            except ExchangeFailure as e:
                stops = await self.venue_stops(p)
                if stops is None:
                    return False  # cannot ask: the intent stays pending for the periodic check
                if await self._settle_from(p, stops, f"not confirmed: {e}", restore=False):
                    return True
                if stops:
                    return False  # the venue holds another stop for it: protected
                continue
            await self.record(p, placed, p.stop_reference)
            return True
        await self.closer.close(p, CloseReason.UNPROTECTABLE,
                                detail="no stop could be put back: " + "; ".join(refusals))
        return False

    # ----- recording ----------------------------------------------------------------------------
    async def record(self, p: Position, stop: StopReport, reference: Decimal) -> None:
        """The venue holds ``stop`` for ``p``: a trailing stop that moved, or a stop placed."""
        if p.status in MOVING and p.stop_price is not None and stop.stop_price != p.stop_price:
            p.confirm_stop_move(new_price=stop.stop_price, reference_price=p.best_price,
                                order_id=stop.order_id, at=self.ctx.now(), raw=stop.raw)
        else:
            p.confirm_stop(price=stop.stop_price, reference_price=reference, order_id=stop.order_id,
                           at=self.ctx.now(), raw=stop.raw)
        await self.ctx.save(p)

    async def refused(self, p: Position, price: Decimal, e: ExchangeFailure) -> str:
        words = refusal(e)
        p.reject_stop(price=price, at=self.ctx.now(), **words)
        await self.ctx.save(p)
        return f"{e.venue_code} {words['reason']}" if e.venue_code else words["reason"]

    async def _drop_superseded(self, p: Position, stops: list[StopReport]) -> None:
        """Cancel the stop orders warden placed for ``p`` other than the recorded one, once the
        recorded one is on the venue (never the last stop standing)."""
        current = [s for s in stops if s.order_id == p.stop_order_id]
        if not current:
            return
        for stop in stops:
            if stop.order_id not in (None, p.stop_order_id) and \
                    p.owns_order(stop.order_id, stop.client_order_id):
                with contextlib.suppress(ExchangeFailure):  # the next check tries again
                    await self.ctx.port(p).cancel_stop(stop)

    async def _mark(self, p: Position) -> Decimal | None:
        for report in await self.closer.positions(p):
            if report.symbol == p.symbol and report.mark_price:
                return report.mark_price
        return p.last_mark


MOVING = (Status.TRAILING, Status.AGED)


def _in_place(p: Position, stops: list[StopReport]) -> bool:
    """Whether ``stops`` (the venue's, for ``p``'s side) hold ``p``'s recorded stop: some stop,
    and a position stop no looser than the recorded one."""
    if not stops:
        return p.stop_price is None
    own = [s for s in stops if s.order_id is None] if p.stop_order_id is None else []
    return not own or p.side.sign * (own[0].stop_price - p.stop_price) >= 0


def _listed(stops: list[StopReport]) -> str:
    if not stops:
        return "no stop"
    return "stops at " + ", ".join(str(s.stop_price) for s in stops)
