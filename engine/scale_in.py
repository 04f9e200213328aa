"""Scale-in: a signal for a symbol whose position is open adds to that position.

One venue position, one warden position: in one-way mode the venue nets a second order on a
symbol into the position already there, so warden never opens a second position beside it. By
default such a signal is refused (`engine.signals`); with the account's ``scale_in`` policy on, a
signal on the same side adds to the open, protected position:

``ScaleInRequested`` (the intent, saved before the order; the signal id is claimed so a repeat is
a duplicate) -> a market order with a client id derived from the position, sent at most once ->
the execution price of the added quantity -> ``ScaleInFilled`` (the quantity grows, the entry
becomes the volume-weighted average) -> the one stop is resized to the whole quantity
(`StopKeeper.resize`; a Bybit position stop already covers it), or ``ScaleInRejected``.
A restart resumes a pending scale-in from the venue's answer for its client id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from warden.domain.errors import InvalidSignal
from warden.domain.ids import client_order_id
from warden.domain.lifecycle import Intent
from warden.domain.position import Position
from warden.domain.reports import ExecutionPrice, OrderReport
from warden.domain.values import PriceSource, Side
from warden.engine.context import EngineContext
from warden.engine.errors import Rejected, refusal
from warden.engine.open_saga import OpenSaga
from warden.engine.stops import StopKeeper

BUSY_WAIT_S = 5.0  # how long a scale-in waits for the position's step in flight before refusing


class ScaleIn:
    def __init__(self, ctx: EngineContext, saga: OpenSaga, stops: StopKeeper) -> None:
        self.ctx, self.saga, self.stops = ctx, saga, stops

    async def begin(self, p: Position, *, signal_id: str, quantity: Decimal,
                    raw: dict[str, Any], claim: Any,
                    save_claim: Callable[[Any], Awaitable[Any]] | None = None) -> asyncio.Task[None]:
        """Take the position's lock (waiting up to `BUSY_WAIT_S` for a step in flight, such as a
        stop move), check it can take a scale-in, record the claim (with ``save_claim``: the
        engine's bounded wait for a signal's first save) and the intent, and start the order.
        Raises `InvalidSignal` with the reason when it cannot, `IntegrityError` for a repeated
        signal; either way nothing is recorded on the position."""
        lock = self.ctx.lock(p.id)
        try:
            async with asyncio.timeout(BUSY_WAIT_S):
                await lock.acquire()
        except TimeoutError:
            raise InvalidSignal(f"position {p.id} on {p.symbol} is busy on the venue; "
                                "send the signal again shortly") from None
        try:
            refused = self._refusal(p)
            if refused is not None:
                raise InvalidSignal(refused)
            # raises IntegrityError for a repeated signal: nothing recorded
            await (save_claim or self.ctx.save)(claim)
            cid = client_order_id(p.id, "add", attempt=p.version + 1)
            p.request_scale_in(signal_id=signal_id, quantity=quantity, client_order_id=cid,
                               at=self.ctx.now(), raw=raw)
            await self.ctx.save(p)
        except BaseException:
            lock.release()
            raise
        return asyncio.create_task(self._run_locked(p, resumed=False), name=f"scale-in:{p.id}")

    @staticmethod
    def _refusal(p: Position) -> str | None:
        """Why ``p`` cannot take a scale-in now (its lock held), or None."""
        if not p.is_open:
            return f"position {p.id} on {p.symbol} closed meanwhile"
        if not p.is_protected:
            return f"position {p.id} on {p.symbol} is {p.status.name}, not yet protected"
        if p.pending_intent is not None:
            return (f"position {p.id} on {p.symbol} is waiting on its {p.pending_intent.value}; "
                    "send the signal again shortly")
        return None

    async def _run_locked(self, p: Position, *, resumed: bool) -> None:
        try:
            await self.run(p, resumed=resumed)
        finally:
            self.ctx.lock(p.id).release()

    async def resume(self, p: Position) -> None:
        """After a restart: a pending scale-in is finished, never sent twice."""
        async with self.ctx.lock(p.id):
            await self.run(p, resumed=True)

    async def run(self, p: Position, *, resumed: bool) -> None:
        ctx = self.ctx
        if p.pending_intent is not Intent.SCALE_IN:
            return
        ctx.checkpoint("scale-in-requested")
        try:
            order = await self.saga.send_order(p, p.scale_in_quantity, p.scale_in_client_order_id,
                                               resumed=resumed)
        except Rejected as e:
            p.reject_scale_in(at=ctx.now(), **refusal(e))
            await ctx.save(p)
            return
        ctx.checkpoint("scale-in-sent")
        price = await self._price(p, order)
        if price is None:
            p.reject_scale_in(reason="no fill found for the added order", code=None, at=ctx.now(),
                              raw=order.raw)
            await ctx.save(p)
            return
        p.fill_scale_in(price=price.price, quantity=min(price.qty, p.scale_in_quantity),
                        source=price.source, order_id=order.order_id, fee=price.fee, at=ctx.now(),
                        raw=price.raw)
        await ctx.save(p)
        await self.stops.resize(p)

    async def _price(self, p: Position, order: OrderReport) -> ExecutionPrice | None:
        """The added quantity's real price: the execution price chain, then what the venue's
        average entry says it must have been."""
        ctx, port, added = self.ctx, self.ctx.port(p), p.scale_in_quantity
        for _ in range(ctx.config.fill_rounds):
            deadline = ctx.clock.monotonic() + ctx.config.fill_timeout_s
            outcome = await port.resolve_execution_price(p.symbol, order.order_id,
                                                         p.scale_in_client_order_id, added, deadline)
            if isinstance(outcome, ExecutionPrice):
                return outcome
        for report in await self.saga.closer.positions(p):
            if report.symbol == p.symbol and report.side is p.side and report.entry_price \
                    and report.size == p.filled_qty + added:
                # the venue's average is the VWAP of the old and the added quantity
                price = (report.entry_price * report.size - p.entry_price * p.filled_qty) / added
                if price > 0:
                    rounded = p.instrument.round_price(price, up=p.side is Side.LONG)  # conservative
                    return ExecutionPrice(rounded, added, PriceSource.POSITION, raw=report.raw)
        return None
