"""Closing a position on the exchange and proving it is flat before recording it closed.

`close` records a `CloseRequested` intent, sends a reduce-only market order with a client id
derived from the position, then waits until a REST position query shows the symbol flat (a failed
query is never "flat"). `Exits.record_closed` then removes every order warden left for it on the
venue, prices the exit from the fills and records why it closed from the order that did it (the
stop may have beaten the close order). A rollback that leaves a position open on the exchange is
a defect, so nothing is recorded as closed before that proof.

The aged exit's resting limit order (`engine.exit_order`, ``exit_orders``) belongs to the close:
before anything else it is recorded filled, or taken off the venue with its intent and outcome
recorded (`Exits.record_closed`).
"""

from __future__ import annotations

from decimal import Decimal

from warden.domain.ids import client_order_id
from warden.domain.position import Position
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure, Rejected, Retryable, UnknownOutcome
from warden.engine.exit_order import ExitOrders
from warden.engine.exits import Exits


class Closer:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.exit_orders = ExitOrders(ctx)
        self.exits = Exits(ctx, self.exit_orders)

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
        await self.ctx.save(p)
        self.ctx.checkpoint("close-requested")
        return await self.finish(p, detail)

    async def finish(self, p: Position, detail: str | None = None) -> bool:
        """Resolve the pending close intent: send it if the venue does not know it, then confirm.
        Everything it needs is in the aggregate, so it also resumes a close after a crash."""
        ctx, port = self.ctx, self.ctx.port(p)
        cid = p.close_client_order_id
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
        return await self.exits.record_closed(p, order_id=order_id, detail=detail)
