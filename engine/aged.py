"""The aged-position process: a periodic tick ages positions and works their exit.

Past `AgedExitPolicy.max_age_seconds` a protected or trailing position becomes AGED. What to do at
each moment is `AgedExitPolicy.step` (the what-if follows the same decision): each phase accepts a
worse exit price (`AgedPhaseEntered` records the limit) and a reduce-only limit order rests at that
price on the venue (`engine.exit_order`): placed at the first phase, amended (same order) when a
later phase moves the price. The venue fills it when the price reaches it, at that price or better,
also while warden is down; the position is then recorded closed when the venue reports it flat
(`AGED_EXIT`). At the hard limit the resting order is cancelled and the position closed at market.
The stop stays on the exchange throughout; if it closes the position first, the exit order is
cancelled with it.
"""

from __future__ import annotations

from warden.domain.lifecycle import Intent, Status
from warden.domain.policies import AGEABLE
from warden.domain.position import Position
from warden.domain.values import CloseReason
from warden.engine.closing import Closer
from warden.engine.context import EngineContext


class AgedProcess:
    def __init__(self, ctx: EngineContext, closer: Closer) -> None:
        self.ctx, self.closer = ctx, closer
        self.exits = closer.exit_orders

    async def tick(self) -> None:
        for position in list(self.ctx.positions.values()):
            if position.status in AGEABLE or position.status is Status.AGED:
                async with self.ctx.lock(position.id):
                    if position.is_open:
                        await self._work(position)

    async def resume(self, p: Position) -> None:
        """After a restart: the exit order's pending action settled, a resting one kept if the
        venue still holds it (never placed a second time)."""
        if p.exit_intent is not None or p.exit_resting:
            await self.exits.settle(p)

    async def _work(self, p: Position) -> None:
        ctx, policy = self.ctx, self.ctx.policies(p).aged
        if p.pending_intent is Intent.CLOSE:
            return  # closing: the closer finishes it
        if p.exit_intent is not None:  # an answer that never came: ask the venue first
            await self.exits.settle(p)
            if p.exit_intent is not None:
                return
        now = ctx.now()
        age = int((now - p.opened_at).total_seconds())
        step = policy.step(side=p.side, entry=p.entry_price, age_seconds=age, instrument=p.instrument,
                           status=p.status, phase=p.aged_phase, resting=p.exit_limit,
                           refused=p.exit_refused)
        if step.ages:
            p.age(age_seconds=age, max_age_seconds=policy.max_age_seconds, at=now)
            await ctx.save(p)
        if step.enters is not None:
            p.enter_aged_phase(phase=step.enters.phase, limit_price=step.enters.limit_price, at=now)
            await ctx.save(p)
        if step.market:
            if p.exit_resting:
                await self.exits.cancel(p, "the hard limit: the rest closes at market")
            await self.closer.close(p, CloseReason.AGED_EXIT)
        elif step.rest_at is not None:
            await self.exits.rest(p, step.rest_at)
            if p.exit_resting and p.exit_limit != step.rest_at:  # the amendment was refused
                await self.exits.settle(p)  # is the order still there at all?
