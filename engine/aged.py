"""The aged-position process: a periodic tick ages positions and works their exit.

Past `AgedExitPolicy.max_age_seconds` a protected or trailing position becomes AGED. Each phase of
the policy accepts a worse exit price (`AgedPhaseEntered` records the limit); the position is
closed at market as soon as the mark reaches the phase's limit, and unconditionally at the hard
limit. The stop stays on the exchange throughout.
"""

from __future__ import annotations

from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.values import CloseReason
from warden.engine.closing import Closer
from warden.engine.context import EngineContext

AGEABLE = (Status.PROTECTED, Status.TRAILING)


class AgedProcess:
    def __init__(self, ctx: EngineContext, closer: Closer) -> None:
        self.ctx, self.closer = ctx, closer

    async def tick(self) -> None:
        for position in list(self.ctx.positions.values()):
            if position.status in AGEABLE or position.status is Status.AGED:
                async with self.ctx.lock(position.id):
                    await self._work(position)

    async def _work(self, p: Position) -> None:
        ctx, policy = self.ctx, self.ctx.policies(p).aged
        now = ctx.now()
        age = int((now - p.opened_at).total_seconds())
        if p.status in AGEABLE and policy.is_aged(age):
            p.age(age_seconds=age, max_age_seconds=policy.max_age_seconds, at=now)
            ctx.save(p)
        if p.status is not Status.AGED or p.pending_intent is Intent.CLOSE:
            return
        decision = policy.decision(p.side, p.entry_price, age, p.instrument)
        if decision is None:
            return
        if decision.phase > p.aged_phase:
            p.enter_aged_phase(phase=decision.phase, limit_price=decision.limit_price, at=now)
            ctx.save(p)
        limit = decision.limit_price
        reached = p.last_mark is not None and limit is not None and p.side.sign * (p.last_mark - limit) >= 0
        if limit is None or reached:
            await self.closer.close(p, CloseReason.AGED_EXIT, limit_price=limit)
