"""The open saga: signal -> entry order -> real fill price -> protective stop -> PROTECTED.

Each exchange action is announced by an intent event saved before the call (`EntryOrderRequested`,
`StopLossRequested`, `CloseRequested`) and followed by its outcome. Every step starts by reading
the aggregate's state, so the same `advance` call both runs a new position and resumes one after a
crash: a pending entry intent is resolved by asking the exchange for its client order id, never by
sending blindly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from warden.domain.errors import InvalidStop
from warden.domain.ids import client_order_id
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.reports import ExecutionPrice, OrderReport, PriceAnswer, StopReport
from warden.domain.values import ZERO, CloseReason, PriceSource, StopPurpose
from warden.engine.closing import Closer
from warden.engine.context import EngineContext
from warden.engine.errors import AlreadyInPlace, Rejected, Retryable, UnknownOutcome, refusal
from warden.engine.stops import StopKeeper, breached_by


class OpenSaga:
    def __init__(self, ctx: EngineContext, closer: Closer, stops: StopKeeper) -> None:
        self.ctx, self.closer, self.stops = ctx, closer, stops

    async def advance(self, position: Position) -> None:
        """Take ``position`` as far as it can go toward PROTECTED (or a confirmed close)."""
        async with self.ctx.lock(position.id):
            if position.status is Status.PENDING and position.entry_order_id is None:
                await self._place_entry(position)
            if position.status is Status.PENDING and position.entry_order_id is not None:
                await self._resolve_fill(position)
            if position.status is Status.FILLED and position.pending_intent is Intent.CLOSE:
                await self.closer.finish(position)
            elif position.status is Status.FILLED:
                await self.protect(position)

    # ----- entry ------------------------------------------------------------------------------
    async def _place_entry(self, p: Position) -> None:
        ctx = self.ctx
        cid = p.entry_client_order_id or client_order_id(p.id, "entry")
        resumed = p.pending_intent is Intent.ENTRY  # after a crash: did it reach the venue?
        if not resumed:
            p.request_entry_order(client_order_id=cid, at=ctx.now())
            await ctx.save(p)
            ctx.checkpoint("entry-requested")
        try:
            order = await self.send_order(p, p.quantity, cid, resumed=resumed)
        except Rejected as e:
            p.reject_entry(at=ctx.now(), **refusal(e))
            await ctx.save(p)
            return
        ctx.checkpoint("entry-sent")
        p.record_entry_order(client_order_id=cid, order_id=order.order_id, at=ctx.now(), raw=order.raw)
        await ctx.save(p)
        ctx.checkpoint("entry-recorded")

    async def send_order(self, p: Position, quantity: Decimal, cid: str, *,
                         resumed: bool) -> OrderReport:
        """A market order adding ``quantity`` to ``p``'s side, sent at most once: when ``resumed``
        (its intent was recorded before a crash) or when an answer was lost, the venue is asked
        for ``cid`` first. Raises `Rejected` when the venue refuses it."""
        port = self.ctx.port(p)
        order = await self._query_order(p, cid) if resumed else None
        while order is None:
            try:
                order = await port.open_market(p.symbol, p.side, quantity, cid)
            except UnknownOutcome:
                order = await self._query_order(p, cid)  # the venue may have taken it
            except Retryable:
                await self.ctx.pause()
        return order

    async def _query_order(self, p: Position, cid: str) -> OrderReport | None:
        """The order with ``cid``, or None once the venue has said several times it does not know it
        (sending again with the same client id is then safe: the venue refuses duplicates)."""
        for _ in range(3):
            try:
                return await self.ctx.port(p).fetch_order_by_client_id(p.symbol, cid)
            except (Retryable, UnknownOutcome):
                await self.ctx.pause()
        return None

    # ----- fill -------------------------------------------------------------------------------
    async def _resolve_fill(self, p: Position) -> None:
        ctx, port = self.ctx, self.ctx.port(p)
        refused: set[tuple[PriceSource, str]] = set()
        for _ in range(ctx.config.fill_rounds):
            deadline = ctx.clock.monotonic() + ctx.config.fill_timeout_s
            outcome = await port.resolve_execution_price(p.symbol, p.entry_order_id,
                                                         p.entry_client_order_id, p.quantity, deadline)
            asked = await self._refuse(p, outcome.asked, refused)
            if isinstance(outcome, ExecutionPrice):
                p.fill(price=outcome.price, quantity=min(outcome.qty, p.quantity - p.filled_qty),
                       source=outcome.source, order_id=p.entry_order_id, fee=outcome.fee,
                       at=ctx.now(), raw=outcome.raw, asked=asked)
                await ctx.save(p)
                ctx.checkpoint("fill-recorded")
                return
            p.record_unresolved_fill(reason=outcome.reason, at=ctx.now(), raw=outcome.raw, asked=asked)
            await ctx.save(p)
        # Still unknown: if the venue holds the position, its average price is the fill.
        for report in await self.closer.positions(p):
            if report.symbol == p.symbol and report.side is p.side and report.entry_price:
                p.fill(price=report.entry_price, quantity=min(report.size, p.quantity),
                       source=PriceSource.POSITION, order_id=p.entry_order_id, at=ctx.now(),
                       raw=report.raw)
                await ctx.save(p)
                return
        p.reject_entry(reason="no fill found for the entry order", code=None, at=ctx.now())
        await ctx.save(p)

    async def _refuse(self, p: Position, asked: Sequence[PriceAnswer],
                refused: set[tuple[PriceSource, str]]) -> list[PriceAnswer]:
        """Record each answer that reported an impossible fill as a `FillRefused` (once, however
        often the venue repeated it); the answers to keep as evidence on the event that follows,
        a refused one without the payload its `FillRefused` holds."""
        evidence = []
        for answer in asked:
            if not answer.refused:
                evidence.append(answer)
                continue
            if (answer.source, answer.said) not in refused:
                refused.add((answer.source, answer.said))
                name = answer.source.value.replace("_", " ")  # "the order query answered ..."
                p.refuse_fill(price=answer.price or ZERO, quantity=answer.qty or ZERO, source=answer.source,
                              reason=f"the {name} {answer.said}", at=self.ctx.now(), raw=answer.raw)
                await self.ctx.save(p)
            evidence.append(replace(answer, raw={}))
        return evidence

    # ----- stop -------------------------------------------------------------------------------
    async def protect(self, p: Position) -> None:
        """Place the initial stop from the real fill; re-round and retry; close at market when no
        stop can be placed, or when the price is already through the stop (its level is breached:
        the venue would refuse it, and a stop further away would widen the policy's risk)."""
        ctx, port = self.ctx, self.ctx.port(p)
        reference = p.entry_price
        try:
            stop = ctx.policies(p).initial_stop.stop_for(p.side, reference, p.instrument, p.stop_loss_percent)
        except InvalidStop as e:
            await self.closer.close(p, CloseReason.ROLLED_BACK, detail=f"no valid stop: {e}")
            return
        if p.pending_intent is Intent.STOP:  # resumed after a crash: is the stop already there?
            placed = await self._stop_on_venue(p, p.requested_stop)
            if placed is not None:
                await self._record_placed(p, placed, reference)
                return
        attempts, last_reason, venue_mark = 0, "", None
        while attempts < ctx.config.stop_attempts:
            through = breached_by(p, stop, venue_mark, self.stops.known_mark(p))
            if through is not None:  # never send a stop the venue must refuse
                await self._close_breached(p, stop, through)
                return
            purpose = StopPurpose.INITIAL if attempts == 0 else StopPurpose.CORRECTION
            cid = self.stops.client_id(p)
            p.request_stop(price=stop, reference_price=reference, purpose=purpose, at=ctx.now(),
                           client_order_id=cid)
            await ctx.save(p)
            ctx.checkpoint("stop-requested")
            try:
                placed = await port.place_stop(p.symbol, p.side, p.filled_qty, stop,
                                               client_order_id=cid)
            except AlreadyInPlace as e:  # that very stop is already in place
                placed = StopReport(p.venue, p.symbol, p.side, stop, None, raw=e.evidence)
                await self._record_placed(p, placed, reference)
                return
            except Rejected as e:
                attempts += 1
                last_reason = e.venue_message or str(e)
                p.reject_stop(price=stop, code=e.venue_code, reason=last_reason, at=ctx.now(),
                                raw=e.evidence)
                await ctx.save(p)
                venue_mark = await self._venue_mark(p)  # the price may have moved meanwhile
                corrected = self._corrected_stop(p, stop, venue_mark)
                if corrected is None:
                    await self._close_breached(p, stop, venue_mark)
                    return
                stop, reference = corrected
                continue
            except (Retryable, UnknownOutcome) as e:
                placed = await self._stop_on_venue(p, stop)  # asked, never assumed
                if placed is None:
                    p.reject_stop(price=stop, code=e.venue_code, reason=f"not confirmed: {e}",
                                    at=ctx.now(), raw=e.evidence)
                    await ctx.save(p)
                    attempts += 1
                    await ctx.pause()
                    venue_mark = await self._venue_mark(p)  # the price moved meanwhile
                    corrected = self._corrected_stop(p, stop, venue_mark)
                    if corrected is None:
                        await self._close_breached(p, stop, venue_mark)
                        return
                    stop, reference = corrected
                    continue
            ctx.checkpoint("stop-sent")
            await self._record_placed(p, placed, reference)
            return
        await self.closer.close(p, CloseReason.ROLLED_BACK,
                                detail=f"stop rejected {attempts} times: {last_reason}")

    async def _record_placed(self, p: Position, placed: StopReport, reference: Decimal) -> None:
        p.confirm_stop(price=placed.stop_price, reference_price=reference, order_id=placed.order_id,
                      at=self.ctx.now(), raw=placed.raw)
        await self.ctx.save(p)
        self.ctx.checkpoint("stop-recorded")

    async def _close_breached(self, p: Position, stop: Decimal, mark: Decimal | None) -> None:
        """The stop's level is breached before any stop held: close at market, saying so."""
        await self.closer.close(p, CloseReason.ROLLED_BACK,
                                detail=f"the price {mark} is already through the stop {stop}")

    async def _venue_mark(self, p: Position) -> Decimal | None:
        """The venue's mark for ``p``'s symbol from a position read, or None."""
        for report in await self.closer.positions(p):
            if report.symbol == p.symbol and report.mark_price:
                return report.mark_price
        return None

    def _corrected_stop(self, p: Position, stop: Decimal,
                        mark: Decimal | None) -> tuple[Decimal, Decimal] | None:
        """After a refusal: ``stop`` re-rounded protectively against the current mark (or the
        entry), with that price as its reference. Never moved further from the price than the
        policy's stop: None when ``stop`` is no longer valid there (the price is through it),
        for the caller to close at market rather than widen the risk."""
        reference = mark if mark is not None else p.entry_price
        try:
            return p.instrument.protective_stop(p.side, stop, reference), reference
        except InvalidStop:
            return None

    async def _stop_on_venue(self, p: Position, stop: Decimal | None) -> StopReport | None:
        """After a crash or an ambiguous answer: the venue's stop for ``p``, preferring the one
        the pending request sent (its client id), then ``stop``'s price."""
        stops = await self.stops.venue_stops(p)
        if stops is None:
            return None
        cid = p.requested_stop_client_id
        exact = [s for s in stops if cid is not None and s.client_order_id == cid] or \
            [s for s in stops if s.stop_price == stop]
        valid = [s for s in stops if s.stop_price > 0 and p.side.sign * (p.entry_price - s.stop_price) > 0]
        chosen = (exact or sorted(valid, key=lambda s: -p.side.sign * s.stop_price))[:1]
        return chosen[0] if chosen else None
