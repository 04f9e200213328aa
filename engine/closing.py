"""Closing a position on the exchange and proving it is flat before recording it closed.

`close` records a `CloseRequested` intent, sends a reduce-only market order with a client id
derived from the position, then waits until a REST position query shows the symbol flat (a failed
query is never "flat") and prices the exit from the close order's fills. A rollback that leaves a
position open on the exchange is a defect, so nothing is recorded as closed before that proof.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from warden.domain.ids import client_order_id
from warden.domain.position import Position
from warden.domain.reports import PositionReport, StopReport
from warden.domain.values import ZERO, CloseReason, OrderSide
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure, Rejected, Retryable, UnknownOutcome


class Closer:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def positions(self, p: Position) -> list[PositionReport]:
        """The account's open positions, or [] when the venue cannot be asked (for hints only)."""
        try:
            return await self.ctx.port(p).fetch_positions()
        except ExchangeFailure:
            return []

    async def is_flat(self, p: Position) -> bool:
        """True only when a REST query succeeded and shows no ``p.side`` position in ``p.symbol``."""
        reports = await self.ctx.port(p).fetch_positions()  # raises: a failed query is not "flat"
        return not any(r.symbol == p.symbol and r.side is p.side and not r.is_flat for r in reports)

    async def close(self, p: Position, reason: CloseReason, *, detail: str | None = None,
                    limit_price: Decimal | None = None) -> bool:
        """Close ``p`` at market; True once recorded closed (or rolled back) on proof of flatness."""
        cid = client_order_id(p.id, "close", attempt=p.version)  # a new id for every close attempt
        p.request_close(reason=reason, client_order_id=cid, limit_price=limit_price, at=self.ctx.now())
        self.ctx.save(p)
        self.ctx.checkpoint("close-requested")
        return await self.finish(p, detail)

    async def finish(self, p: Position, detail: str | None = None) -> bool:
        """Resolve the pending close intent: send it if the venue does not know it, then confirm.
        Everything it needs is in the aggregate, so it also resumes a close after a crash."""
        ctx, port = self.ctx, self.ctx.port(p)
        cid, reason = p.close_client_order_id, p.requested_close_reason
        order_id = None
        for _ in range(ctx.config.confirm_rounds):
            try:
                if await self.is_flat(p):
                    break
                existing = await port.fetch_order_by_client_id(p.symbol, cid)
                if existing is None:
                    existing = await port.close_market(p.symbol, p.side, p.filled_qty, cid)
                order_id = existing.order_id
            except Rejected:
                pass  # e.g. reduce-only with nothing to reduce: the next query tells
            except (Retryable, UnknownOutcome):
                pass
            await ctx.pause()
        else:
            return False
        exit_price, fees = await self.exit_of(p, order_id)
        await self._cancel_stop(p)
        if reason is CloseReason.ROLLED_BACK:
            p.roll_back(reason=detail or f"could not be protected ({p.stop_rejections} stop rejections)",
                        exit_price=exit_price, fees=fees, at=ctx.now())
        else:
            p.close(exit_price=exit_price, fees=fees, reason=reason, at=ctx.now())
        ctx.save(p)
        return True

    async def exit_of(self, p: Position, order_id: str | None) -> tuple[Decimal | None, Decimal]:
        """VWAP and fees of the exit: the close order's fills, else every exiting fill since open."""
        try:
            fills = await self.ctx.port(p).fetch_fills(p.symbol, order_id)
        except ExchangeFailure:
            return None, ZERO
        exiting = [f for f in fills if f.side is OrderSide.exiting(p.side)
                   and (order_id is not None or f.time is None or f.time >= p.opened_at)]
        qty = sum((f.qty for f in exiting), ZERO)
        if qty <= 0:
            return None, ZERO
        vwap = sum((f.price * f.qty for f in exiting), ZERO) / qty
        return vwap, sum((f.fee for f in exiting), ZERO)

    async def _cancel_stop(self, p: Position) -> None:
        if p.stop_price is None or p.stop_order_id is None:
            return  # a position stop leaves with the position
        # a reduce-only stop left on a flat position cannot open anything: failure is harmless
        with contextlib.suppress(ExchangeFailure):
            await self.ctx.port(p).cancel_stop(
                StopReport(p.venue, p.symbol, p.side, p.stop_price, p.stop_order_id))
