"""The aged exit's resting order on the venue: placed, amended in place, cancelled, and found again.

Every action follows the engine's rule for the venue: its intent (`ExitOrderRequested`) is saved
before the call and its outcome after. An answer that never came (a timeout, a crash) is asked for
by looking the order up by its client id, never assumed, and the order is never sent twice: after
a restart the pending action is settled from what the venue holds, and an order the log says rests
is kept if the venue still holds it. ``checkpoint`` names the steps between (``exit-place-
requested``, ``exit-place-sent``, ``exit-place-recorded``, the same for ``amend`` and
``cancel``); the restart tests crash the engine there.
"""

from __future__ import annotations

from decimal import Decimal

from warden.domain.ids import client_order_id
from warden.domain.position import Position
from warden.domain.reports import OrderReport
from warden.domain.values import ZERO, ExitAction, OrderSide, OrderStatus
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure, Rejected, Retryable, UnknownOutcome

LOOKUPS = 3  # tries to find the order by its client id before the answer stays unknown


class Unanswered(Exception):
    """The venue could not be asked what became of the order: the action stays pending."""


class ExitOrders:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def rest(self, p: Position, price: Decimal) -> None:
        """Make the venue hold ``p``'s exit order at ``price``: placed the first time, amended
        (same order, same id) when a later phase moves the price."""
        if p.exit_resting:
            p.request_exit_order(action=ExitAction.AMEND, price=price, quantity=p.filled_qty,
                                 phase=p.aged_phase, at=self.ctx.now())
        else:
            p.request_exit_order(action=ExitAction.PLACE, price=price, quantity=p.filled_qty,
                                 phase=p.aged_phase, at=self.ctx.now(),
                                 client_order_id=client_order_id(p.id, "exit", attempt=p.version))
        await self._announced(p)

    async def cancel(self, p: Position, reason: str) -> OrderReport | None:
        """Take ``p``'s resting exit order off the venue (``reason`` is recorded); its last state
        on the venue (how much of it filled), or None when the venue no longer lists it."""
        p.request_exit_order(action=ExitAction.CANCEL, quantity=p.filled_qty, phase=p.aged_phase,
                             at=self.ctx.now())
        return await self._announced(p, reason)

    async def settle(self, p: Position, gone: str = "the venue no longer holds it") -> None:
        """A pending action whose answer never came (a crash, a lookup that failed): recorded from
        what the venue holds, or sent (with the same client id) if it never got there. Then an
        order the log says rests must still be on the venue: kept if it is; recorded filled if
        the venue filled it; else taken off and recorded cancelled (``gone`` says why)."""
        if p.exit_intent is not None:
            try:
                found = await self._find(p)
            except Unanswered:
                return  # the next tick asks again
            if self._took_effect(p, found):
                await self._record(p, found, "settled after its answer was lost")
            else:
                await self._send(p, "settled after its answer was lost")
        if p.exit_intent is None and p.exit_resting:
            try:
                found = await self._find(p)
            except Unanswered:
                return
            if found is not None and found.status is OrderStatus.FILLED:
                p.record_exit_fill(filled_qty=found.filled_qty, average_price=found.average_price,
                                   at=self.ctx.now(), raw=found.raw)
                await self.ctx.save(p)
            elif found is None or not found.is_open:
                await self.cancel(p, gone)

    async def filled_qty(self, p: Position) -> Decimal:
        """How much of ``p``'s exit order filled, as the venue says now (0 if it cannot say)."""
        try:
            found = await self._find(p)
        except Unanswered:
            return ZERO
        return found.filled_qty if found is not None else ZERO

    # ----- one action: announced, sent, recorded ------------------------------------------------
    async def _announced(self, p: Position, reason: str = "") -> OrderReport | None:
        await self.ctx.save(p)
        self.ctx.checkpoint(f"exit-{p.exit_intent.value}-requested")
        return await self._send(p, reason)

    async def _send(self, p: Position, reason: str) -> OrderReport | None:
        ctx, action = self.ctx, p.exit_intent
        try:
            answer = await self._call(p)
        except Rejected as e:
            p.reject_exit_order(code=e.venue_code, reason=e.venue_message or str(e), at=ctx.now(),
                                raw=e.evidence)
            await ctx.save(p)
            return None
        except Unanswered:
            return None  # cancelled, but what filled is unknown yet: settled on the next tick
        except (Retryable, UnknownOutcome) as e:
            try:
                answer = await self._find(p)
            except Unanswered:
                return None  # pending: asked again on the next tick, never assumed
            if not self._took_effect(p, answer):
                p.reject_exit_order(code=None, reason=f"not confirmed: {e}", at=ctx.now(), raw=e.evidence)
                await ctx.save(p)
                return None
        ctx.checkpoint(f"exit-{action.value}-sent")
        await self._record(p, answer, reason)
        ctx.checkpoint(f"exit-{action.value}-recorded")
        return answer

    async def _call(self, p: Position) -> OrderReport | None:
        port = self.ctx.port(p)
        if p.exit_intent is ExitAction.PLACE:
            return await port.place_exit_limit(p.symbol, p.side, p.filled_qty, p.exit_requested,
                                               p.exit_client_order_id)
        if p.exit_intent is ExitAction.AMEND:
            return await port.amend_order(self._resting(p), p.exit_requested)
        await port.cancel_order(self._resting(p))
        return await self._find(p)  # its last state: how much of it filled

    def _took_effect(self, p: Position, found: OrderReport | None) -> bool:
        if p.exit_intent is ExitAction.PLACE:
            return found is not None
        if p.exit_intent is ExitAction.AMEND:
            return found is not None and found.price == p.exit_requested
        return found is None or not found.is_open

    async def _record(self, p: Position, order: OrderReport | None, reason: str) -> None:
        at, raw = self.ctx.now(), order.raw if order is not None else None
        if p.exit_intent is ExitAction.PLACE:
            p.confirm_exit_order(order_id=order.order_id, price=p.exit_requested, at=at, raw=raw)
        elif p.exit_intent is ExitAction.AMEND:
            p.confirm_exit_amend(price=p.exit_requested, at=at, raw=raw)
        else:
            p.confirm_exit_cancel(filled_qty=order.filled_qty if order is not None else ZERO,
                                  reason=reason, at=at, raw=raw)
        await self.ctx.save(p)

    async def _find(self, p: Position) -> OrderReport | None:
        """The exit order by its client id (None: the venue does not know it); `Unanswered` when
        the venue could not be asked."""
        for _ in range(LOOKUPS):
            try:
                return await self.ctx.port(p).fetch_order_by_client_id(p.symbol, p.exit_client_order_id)
            except (Retryable, UnknownOutcome):
                await self.ctx.pause()
            except ExchangeFailure:
                break
        raise Unanswered(p.exit_client_order_id)

    @staticmethod
    def _resting(p: Position) -> OrderReport:
        """The exit order as the log knows it: what amend and cancel name."""
        return OrderReport(venue=p.venue, symbol=p.symbol, order_id=p.exit_order_id,
                           client_order_id=p.exit_client_order_id, status=OrderStatus.NEW,
                           side=OrderSide.exiting(p.side), qty=p.filled_qty, filled_qty=ZERO,
                           average_price=None, reduce_only=True, price=p.exit_limit)
