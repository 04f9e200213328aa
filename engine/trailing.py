"""The trailing stop process: mark prices in, throttled and coalesced stop moves out.

Every mark price of a tracked position is recorded (`MarkPriceObserved`). Once profit reaches the
activation percent the position is TRAILING and the stop follows the best price at the callback
distance, only in the position's favour. Moves are throttled per position (`min_interval_seconds`)
and coalesced: while a move is in flight or throttled, later updates only mark the position dirty,
and the next move recomputes the target from the latest best price. A move is recorded as done
only when the exchange confirms it (or, after a lost answer, when the venue lists the new stop);
the new stop is placed before the old one goes (`engine.stops`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from warden.domain.lifecycle import Status
from warden.domain.position import Position
from warden.domain.values import PriceSource, StopPurpose
from warden.engine.context import EngineContext
from warden.engine.stops import StopKeeper

MOVABLE = (Status.TRAILING, Status.AGED)
DECISIONS_KEPT = 256  # latest update-to-decision latencies per position; a long trail keeps no more


@dataclass
class _Throttle:
    last_move: float = float("-inf")
    in_flight: bool = False
    dirty: bool = False
    timer: asyncio.Task[None] | None = None
    # seconds from update to decision, the latest DECISIONS_KEPT
    decisions: deque[float] = field(default_factory=lambda: deque(maxlen=DECISIONS_KEPT))


class TrailingProcess:
    def __init__(self, ctx: EngineContext, stops: StopKeeper) -> None:
        self.ctx, self.stops = ctx, stops
        self._throttles: dict[Any, _Throttle] = {}
        self.moves_sent = 0
        self.decision_observers: list[Callable[[float], None]] = []  # update-to-decision seconds

    async def on_mark(self, p: Position, price: Decimal, *, at: datetime, received: float,
                      source: PriceSource = PriceSource.MARK, raw: dict[str, Any] | None = None) -> None:
        """One mark price for ``p``; ``received`` is the monotonic time the update arrived."""
        ctx, policy = self.ctx, self.ctx.policies(p).trailing
        if not p.is_open or p.entry_price is None or price <= 0:
            return
        p.observe_mark(price=price, source=source, at=at, raw=raw)
        if p.status is Status.PROTECTED and policy.should_activate(
                p.side, p.entry_price, price, p.trailing_activation_percent):
            p.activate_trailing(price=price, activation_percent=p.trailing_activation_percent
                                or policy.activation_percent, at=at)
        ctx.save_soon(p)  # not awaited: the stop move's intent, saved after it, waits for both
        if p.status in MOVABLE:
            await self._decide(p, received)

    async def _decide(self, p: Position, received: float) -> None:
        throttle = self._throttles.setdefault(p.id, _Throttle())
        if self._target(p) is None:
            return
        wait = throttle.last_move + float(self.ctx.policies(p).trailing.min_interval_seconds) \
            - self.ctx.clock.monotonic()
        if throttle.in_flight or wait > 0:
            throttle.dirty = True  # coalesce: the latest best price wins when the move runs
            if throttle.timer is None and not throttle.in_flight:
                throttle.timer = asyncio.create_task(self._later(p, max(wait, 0)))
            return
        latency = self.ctx.clock.monotonic() - received
        throttle.decisions.append(latency)
        for observe in self.decision_observers:
            observe(latency)
        await self._move(p, throttle)

    def _target(self, p: Position) -> Decimal | None:
        return self.ctx.policies(p).trailing.next_stop(p.side, p.best_price, p.stop_price, p.instrument,
                                                  p.trailing_callback_percent)

    async def _later(self, p: Position, delay: float) -> None:
        await asyncio.sleep(delay)
        throttle = self._throttles[p.id]
        throttle.timer = None
        if throttle.dirty and p.is_open and p.status in MOVABLE and self._target(p) is not None:
            await self._move(p, throttle)

    async def _move(self, p: Position, throttle: _Throttle) -> None:
        ctx = self.ctx
        throttle.in_flight, throttle.dirty = True, False
        try:
            async with ctx.lock(p.id):
                target = self._target(p)
                if target is None or not p.is_open or p.status not in MOVABLE:
                    return
                self.moves_sent += 1
                # placed before the old one goes; a lost answer is settled by asking the venue
                await self.stops.replace(p, target, p.best_price, StopPurpose.TRAIL)
        finally:
            throttle.in_flight = False
            throttle.last_move = ctx.clock.monotonic()
            if throttle.dirty and throttle.timer is None:
                delay = float(ctx.policies(p).trailing.min_interval_seconds)
                throttle.timer = asyncio.create_task(self._later(p, delay))

    def decision_latencies(self) -> list[float]:
        """The latest update-to-decision latencies of every position (at most DECISIONS_KEPT each)."""
        return [d for t in self._throttles.values() for d in t.decisions]

    async def stop(self) -> None:
        for throttle in self._throttles.values():
            if throttle.timer is not None:
                throttle.timer.cancel()
