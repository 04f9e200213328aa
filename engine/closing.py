"""Closing a position on the exchange and proving it is flat before recording it closed.

`close` records a `CloseRequested` intent, sends a reduce-only market order with a client id
derived from the position, then waits until a REST position query shows the symbol flat (a failed
query is never "flat"). The order is sized from the venue's position, not from warden's record of
it (an adopted position may still be growing); when it is done and the venue still holds some of
the position (more arrived after it was sized, or it filled in part), a new intent closes what is
left. `Exits.record_closed` then removes every order warden left for it on the venue, prices the
exit from the fills and records why it closed from the order that did it (the stop may have beaten
the close order). A rollback that leaves a position open on the exchange is a defect, so nothing
is recorded as closed before that proof; a close that runs out of rounds stays pending, and the
reconciler takes it up again (`Reconciler`).

The aged exit's resting limit order (`engine.exit_order`, ``exit_orders``) belongs to the close:
before anything else it is recorded filled, or taken off the venue with its intent and outcome
recorded (`Exits.record_closed`).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from warden.domain.ids import client_order_id
from warden.domain.lifecycle import Intent
from warden.domain.position import Position
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason, Origin
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure, Rejected, Retryable, UnknownOutcome
from warden.engine.exit_order import ExitOrders
from warden.engine.exits import Exits

log = logging.getLogger("warden.closing")


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
        return await self.held(p) is None

    async def held(self, p: Position) -> PositionReport | None:
        """The venue's ``p.side`` position in ``p.symbol``, None when it holds none (REST; raises
        when the venue cannot be asked: a failed query is never "flat")."""
        reports = await self.ctx.port(p).fetch_positions()
        return next((r for r in reports if r.symbol == p.symbol and r.side is p.side and not r.is_flat),
                    None)

    async def close(self, p: Position, reason: CloseReason, *, detail: str | None = None,
                    limit_price: Decimal | None = None) -> bool:
        """Close ``p`` at market; True once recorded closed (or rolled back) on proof of flatness."""
        await self._request(p, reason, limit_price)
        return await self.finish(p, detail)

    async def _request(self, p: Position, reason: CloseReason, limit_price: Decimal | None = None) -> None:
        cid = client_order_id(p.id, "close", attempt=p.version)  # a new id for every close attempt
        p.request_close(reason=reason, client_order_id=cid, limit_price=limit_price, at=self.ctx.now())
        await self.ctx.save(p)
        self.ctx.checkpoint("close-requested")

    async def finish(self, p: Position, detail: str | None = None) -> bool:
        """Resolve the pending close intent: send it if the venue does not know it, then confirm.
        Everything it needs is in the aggregate, so it also resumes a close after a crash.

        False when the venue did not show the position flat within ``confirm_rounds``: the intent
        stays pending (nothing is recorded closed that may still be open) for the reconciler to
        take up again."""
        if not p.is_open or p.pending_intent is not Intent.CLOSE:
            return not p.is_open  # settled meanwhile (the reconciler took it up, or a resume did)
        ctx, port = self.ctx, self.ctx.port(p)
        order_id = None
        for _ in range(ctx.config.confirm_rounds):
            try:
                # the order first, then the position: a done order with the venue still holding
                # some of the position afterwards is a remainder, not a fill not yet reflected
                existing = await port.fetch_order_by_client_id(p.symbol, p.close_client_order_id)
                held = await self.held(p)
                if held is None:
                    break
                if p.origin is Origin.ADOPTED and held.size > p.filled_qty:
                    # the hand order kept filling: warden closes, and records, all of it
                    p.follow_adopted_size(size=held.size, entry_price=held.entry_price,
                                          at=ctx.now(), raw=held.raw)
                    await ctx.save(p)
                if existing is not None and not existing.is_open:
                    # done, yet the venue still holds some: more arrived after it was sized (an
                    # adopted position still filling), or it filled in part. Its client id is
                    # spent, so what is left gets an intent of its own.
                    await self._request(p, p.requested_close_reason or CloseReason.ROLLED_BACK)
                    existing = None
                if existing is None:  # sized from the venue: all of it, whatever warden recorded
                    existing = await port.close_market(p.symbol, p.side, held.size,
                                                      p.close_client_order_id)
                order_id = existing.order_id
            except Rejected:
                pass  # e.g. reduce-only with nothing to reduce: the next query tells
            except (Retryable, UnknownOutcome):
                pass
            await ctx.pause()
        else:
            log.warning("%s %s: the close was not seen flat in %d rounds; it stays pending and the "
                        "reconciler takes it up again", p.venue, p.symbol, ctx.config.confirm_rounds)
            return False
        return await self.exits.record_closed(p, order_id=order_id, detail=detail)
