"""The trailing stop process: mark prices in, throttled and coalesced stop moves out.

Marks reach a position through its lane (`warden.engine.lanes`): one position's decisions run
one at a time and in order, and its stop move's round trip to the venue never delays another
position. Every mark is folded into the position's best price the moment it is offered
(`offer`, no I/O), so a mark that a busy lane supersedes is counted but its price still counts.

Once profit at the best price reaches the activation percent the position is TRAILING
(`TrailingActivated` with that price) and the stop follows the best price at the callback
distance, only in the position's favour. Moves are throttled per position
(`min_interval_seconds`): a mark that comes too early arms a timer that wakes the lane when the
wait is over, and that run recomputes the target from the latest best price. The best price a move
follows is recorded with it (`StopLossRequested.reference_price`) and on the symbol's price tape
(`warden.engine.tape`); prices no decision used are only on the tape. A move is recorded as done
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
from uuid import UUID

from warden.domain.lifecycle import Status
from warden.domain.position import Position
from warden.domain.values import PriceSource, StopPurpose
from warden.engine.context import EngineContext
from warden.engine.lanes import Lanes
from warden.engine.stops import StopKeeper
from warden.engine.tape import PriceTapes

MOVABLE = (Status.TRAILING, Status.AGED)
DECISIONS_KEPT = 256  # latest update-to-decision latencies per position; a long trail keeps no more


@dataclass(frozen=True)
class Mark:
    """One price for the positions of a symbol; ``arrived`` is the monotonic time its frame came
    off the websocket (the update-to-decision latency is measured from there)."""

    price: Decimal
    source: PriceSource
    at: datetime
    arrived: float


@dataclass
class _Watch:
    """What the trailing process knows of one position beyond its events."""

    best: Mark | None = None  # the best mark offered, which a decision may not have recorded yet
    latest: Mark | None = None  # the last mark offered
    last_move: float = float("-inf")
    timer: asyncio.Task[None] | None = None
    # seconds from update to decision, the latest DECISIONS_KEPT
    decisions: deque[float] = field(default_factory=lambda: deque(maxlen=DECISIONS_KEPT))

    def see(self, p: Position, mark: Mark) -> None:
        self.latest = mark
        if self.best is None or p.side.sign * (mark.price - self.best.price) > 0:
            self.best = mark


class TrailingProcess:
    def __init__(self, ctx: EngineContext, stops: StopKeeper, tapes: PriceTapes) -> None:
        self.ctx, self.stops, self.tapes = ctx, stops, tapes
        self._watches: dict[UUID, _Watch] = {}
        self.lanes: Lanes[UUID, Mark] = Lanes(self._run, "trailing")
        self.moves_sent = 0
        self.decision_observers: list[Callable[[float], None]] = []  # update-to-decision seconds

    def offer(self, p: Position, mark: Mark) -> None:
        """A mark for ``p``: folded into its best price now, decided on in its lane."""
        if not p.is_open or p.entry_price is None or mark.price <= 0:
            return
        self._watches.setdefault(p.id, _Watch()).see(p, mark)
        self.lanes.offer(p.id, mark)

    def latest_best(self, p: Position) -> Decimal | None:
        """The best price offered to ``p`` so far (recorded or not)."""
        watch = self._watches.get(p.id)
        return self._best(p, watch)[0] if watch else p.best_price

    async def _run(self, position_id: UUID, mark: Mark | None) -> None:
        p = self.ctx.positions.get(position_id)
        if p is None or not p.is_open:
            self._forget(position_id)
            return
        watch = self._watches.setdefault(position_id, _Watch())
        policy = self.ctx.policies(p).trailing
        best = watch.best
        if p.status is Status.PROTECTED and best is not None and policy.should_activate(
                p.side, p.entry_price, best.price, p.trailing_activation_percent):
            self.tapes.used(p.venue, p.symbol, best.price, best.source, best.at)
            p.activate_trailing(price=best.price, activation_percent=p.trailing_activation_percent
                                or policy.activation_percent, at=best.at)
            self.ctx.record(p)  # the move's intent, saved after it, waits for both
        if p.status in MOVABLE:
            await self._decide(p, watch, mark)

    async def _decide(self, p: Position, watch: _Watch, mark: Mark | None) -> None:
        if self._target(p, watch) is None:
            return
        wait = watch.last_move + float(self.ctx.policies(p).trailing.min_interval_seconds) \
            - self.ctx.clock.monotonic()
        if not self.ctx.store.available:
            # the move's intent could not be recorded before it is sent: a target decided now
            # would go out, from this mark, only once the store is back; decide then, from the
            # latest mark (the lane checks again every retry delay)
            wait = max(wait, self.ctx.config.retry_delay_s)
        if wait > 0:  # throttled: the latest best price wins when the lane wakes
            if watch.timer is None:
                watch.timer = asyncio.create_task(self._wake(p.id, watch, wait))
            return
        if mark is not None:
            latency = self.ctx.clock.monotonic() - mark.arrived
            watch.decisions.append(latency)
            for observe in self.decision_observers:
                observe(latency)
        await self._move(p, watch)

    def _best(self, p: Position, watch: _Watch) -> tuple[Decimal | None, Mark | None]:
        """The best price and, when no decision recorded it yet, the mark it came from."""
        seen = watch.best
        if seen is not None and (p.best_price is None or p.side.sign * (seen.price - p.best_price) > 0):
            return seen.price, seen
        return p.best_price, None

    def _target(self, p: Position, watch: _Watch) -> Decimal | None:
        """The stop to move to, or None: no better one, or one the latest mark has already passed
        (a throttled move that runs after the price fell back through its target): the venue
        would refuse it as triggering at once, so it is not sent and the stop in force stays."""
        target = self.ctx.policies(p).trailing.next_stop(p.side, self._best(p, watch)[0], p.stop_price,
                                                         p.instrument, p.trailing_callback_percent)
        if target is not None and self._passed(p, watch, target) is not None:
            return None
        return target

    def _passed(self, p: Position, watch: _Watch, target: Decimal) -> Decimal | None:
        """The latest mark, when it is at or through ``target``."""
        latest = watch.latest.price if watch.latest is not None else p.last_mark
        return latest if latest is not None and p.side.sign * (latest - target) <= 0 else None

    async def _wake(self, position_id: UUID, watch: _Watch, delay: float) -> None:
        await asyncio.sleep(delay)
        watch.timer = None
        self.lanes.wake(position_id)

    async def _move(self, p: Position, watch: _Watch) -> None:
        ctx = self.ctx
        try:
            async with ctx.lock(p.id):  # the saga, stops, aged exit and reconcile take it too
                target = self._target(p, watch)
                if target is None or not p.is_open or p.status not in MOVABLE:
                    return
                best, unrecorded = self._best(p, watch)
                if unrecorded is not None:
                    self.tapes.used(p.venue, p.symbol, unrecorded.price, unrecorded.source, unrecorded.at)
                self.moves_sent += 1
                # placed before the old one goes; a lost answer is settled by asking the venue;
                # not sent if the latest mark passed it while its intent waited for the store
                await self.stops.replace(p, target, best, StopPurpose.TRAIL,
                                         passed=lambda: self._passed(p, watch, target))
        finally:
            watch.last_move = ctx.clock.monotonic()

    def sweep(self) -> None:
        """Forget the positions no longer tracked (closed) whose lanes are idle."""
        for position_id in [i for i in self._watches if i not in self.ctx.positions
                            and not self.lanes.busy(i)]:
            self._forget(position_id)

    def _forget(self, position_id: UUID) -> None:
        watch = self._watches.pop(position_id, None)
        if watch is not None and watch.timer is not None:
            watch.timer.cancel()

    def decision_latencies(self) -> list[float]:
        """The latest update-to-decision latencies of every position (at most DECISIONS_KEPT each)."""
        return [d for w in self._watches.values() for d in w.decisions]

    async def idle(self) -> None:
        """Until every lane has run what was offered (a throttled move's timer is not waited for)."""
        await self.lanes.idle()

    async def stop(self) -> None:
        for watch in self._watches.values():
            if watch.timer is not None:
                watch.timer.cancel()
        await self.lanes.stop()
