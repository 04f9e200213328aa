"""The what-if run of one position: its recorded inputs drive a fresh `Position` through its own
commands, with the decisions of the pure policies of `domain/policies.py` taken as the engine's
processes take them (engine/trailing.py; the aged exit is `AgedExitPolicy.step`, the very
decision engine/aged.py carries out). There is no exchange:

- the entry fills are the recorded ones; the initial stop is placed at the (first) fill;
- every stop is placed and every move confirmed as asked;
- a stop is hit when a price reaches it, and the exit is assumed at the stop price;
- trailing activates and moves on each price, keeping the policy's minimum interval between
  moves on the prices' times (a throttled move runs when the interval ends, from the best price
  then), and also while AGED, as the engine does;
- aged thresholds fall at their exact times; each phase's exit order rests at its price (placed,
  then amended) and fills there when a price reaches it, or at once at the last price when that
  is already better; the hard limit closes at the last price seen;
- a close no policy decided (by hand, liquidated, rolled back) happens at its recorded time and
  price; nothing happens after the log's last event.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from warden.domain.errors import InvalidStop
from warden.domain.lifecycle import Status
from warden.domain.policies import PositionPolicies
from warden.domain.values import ZERO, CloseReason, ExitAction, PriceSource, StopPurpose
from warden.projections.recorded import CLOSES, PositionLog, PriceTick

POLICY_CLOSES = (CloseReason.STOP_HIT, CloseReason.TRAILING_STOP_HIT, CloseReason.AGED_EXIT)
MOVABLE = (Status.TRAILING, Status.AGED)
WHATIF_ORDER = "whatif"  # the client and venue id of the what-if's exit order
_FILL, _PRICE, _TIMER, _EXTERNAL = range(4)  # order of inputs at one instant


@dataclass(frozen=True)
class Simulated:
    events: list[Any]  # the what-if position's events, the recorded creation first
    note: str  # what was assumed, e.g. "exit assumed at the stop price"
    exit_fees: Decimal  # charged to the exit, also to a position valued open at the end


def simulate(position: PositionLog, ticks: Sequence[PriceTick], config: PositionPolicies,
             end: datetime | None = None) -> Simulated:
    """Run ``position``'s recorded inputs and ``ticks`` through ``config``'s policies until ``end``."""
    run = _Run(position, config, end)
    run.run(ticks)
    return Simulated([position.created, *run.p.collect_events()], run.note, run.exit_fees())


def _reason(close: Any) -> CloseReason:
    """A recorded close's reason (a rollback's ``reason`` is its explanation, not a `CloseReason`)."""
    reason = getattr(close, "reason", None)
    return reason if isinstance(reason, CloseReason) else CloseReason.ROLLED_BACK


class _Run:
    """One what-if run: a heap of timed inputs applied to a fresh aggregate by its commands."""

    def __init__(self, position: PositionLog, config: PositionPolicies, end: datetime | None) -> None:
        self.position, self.config, self.end = position, config, end
        self.p = position.created.mutate(None)  # the recorded creation: same id, side, instrument
        self.inputs: list[tuple[datetime, int, int, Any]] = []
        self.last_move: datetime | None = None
        self.wake_at: datetime | None = None
        self.note = ""
        recorded = position.history
        self.fills = [e for e in recorded if type(e).__name__ == "EntryFilled"]
        closes = [e for e in recorded if type(e).__name__ in CLOSES]
        self.recorded_close = closes[-1] if closes else None

    def push(self, time: datetime, order: int, payload: Any = None) -> None:
        if self.end is not None and time > self.end:
            return
        heapq.heappush(self.inputs, (time, order, len(self.inputs), payload))

    def run(self, ticks: Sequence[PriceTick]) -> None:
        p = self.p
        first = self._enter()
        if first is not None:
            for tick in ticks:
                if tick.time >= first:
                    self.push(tick.time, _PRICE, tick.price)
            self._schedule_aged()
            close = self.recorded_close
            if close is not None and _reason(close) not in POLICY_CLOSES:
                self.push(close.timestamp, _EXTERNAL, close)
        while self.inputs and p.is_open:
            time, order, _, payload = heapq.heappop(self.inputs)
            self._apply(time, order, payload)

    def _enter(self) -> datetime | None:
        """Apply the entry fills the recorded engine protected, then place the initial stop."""
        p = self.p
        if p.entry_price is None and not self.fills:
            self.note = "never filled"
            return None
        requested = [e.timestamp for e in self.position.history if type(e).__name__ == "StopLossRequested"]
        cutoff = requested[0] if requested else None
        at = self.position.created.timestamp
        for fill in self.fills:
            if cutoff is not None and fill.timestamp > cutoff:
                self.push(fill.timestamp, _FILL, fill)
                continue
            self._fill(fill)
            at = fill.timestamp
        self._initial_stop(at)
        return at

    def _fill(self, e: Any) -> None:
        self.p.fill(price=e.price, quantity=e.quantity, source=e.price_source, at=e.timestamp,
                    order_id=e.order_id, fee=e.fee)

    def _initial_stop(self, at: datetime) -> None:
        p = self.p
        try:
            stop = self.config.initial_stop.stop_for(p.side, p.entry_price, p.instrument, p.stop_loss_percent)
        except InvalidStop as e:
            self.note = f"no valid initial stop ({e}): left unprotected"
            return
        p.request_stop(price=stop, reference_price=p.entry_price, purpose=StopPurpose.INITIAL, at=at)
        p.confirm_stop(price=stop, reference_price=p.entry_price, order_id=None, at=at)

    def _schedule_aged(self) -> None:
        aged, opened = self.config.aged, self.p.opened_at
        start = opened + timedelta(seconds=aged.max_age_seconds)
        for offset in [0, *(phase.after_seconds for phase in aged.phases), aged.hard_limit_seconds]:
            self.push(start + timedelta(seconds=offset), _TIMER, "aged")

    def _apply(self, time: datetime, order: int, payload: Any) -> None:
        p = self.p
        if order == _FILL:
            self._fill(payload)
        elif order == _EXTERNAL:
            p.close(exit_price=payload.exit_price, fees=payload.fees, reason=_reason(payload), at=time)
            self.note = "closed as recorded (not a policy's decision)"
        elif order == _PRICE:
            self._price(time, payload)
        elif payload == "trail":  # the engine's throttle timer: the move from the best price now
            self.wake_at = None
            self._trail(time)
        else:
            self._aged(time)

    def _price(self, time: datetime, price: Decimal) -> None:
        p, trailing = self.p, self.config.trailing
        if p.stop_price is not None and p.side.sign * (price - p.stop_price) <= 0:
            # the venue's stop fires before warden sees the price: exit assumed at the stop
            reason = CloseReason.TRAILING_STOP_HIT if p.status is Status.TRAILING else CloseReason.STOP_HIT
            p.close(exit_price=p.stop_price, fees=self.exit_fees(), reason=reason, at=time)
            self.note = "exit assumed at the stop price"
            return
        if p.exit_limit is not None and p.side.sign * (price - p.exit_limit) >= 0:
            self._exit_fills(p.exit_limit, time, "the aged exit order filled at its limit price")
            return
        p.observe_mark(price=price, source=PriceSource.MARK, at=time)
        if p.status is Status.PROTECTED and trailing.should_activate(
                p.side, p.entry_price, price, p.trailing_activation_percent):
            p.activate_trailing(price=price, activation_percent=p.trailing_activation_percent
                                or trailing.activation_percent, at=time)
        self._trail(time)
        self._aged(time)

    def _trail(self, time: datetime) -> None:
        p, trailing = self.p, self.config.trailing
        if not p.is_open or p.status not in MOVABLE:
            return
        target = trailing.next_stop(p.side, p.best_price, p.stop_price, p.instrument,
                                    p.trailing_callback_percent)
        if target is None:
            return
        ready = self.last_move + timedelta(seconds=float(trailing.min_interval_seconds)) \
            if self.last_move is not None else time
        if time < ready:  # throttled: the move runs when the interval is over, from the best then
            if self.wake_at is None:
                self.wake_at = ready
                self.push(ready, _TIMER, "trail")
            return
        best = p.best_price
        p.request_stop(price=target, reference_price=best, purpose=StopPurpose.TRAIL, at=time)
        p.confirm_stop_move(new_price=target, reference_price=best, order_id=None, at=time)
        self.last_move = time

    def _aged(self, time: datetime) -> None:
        p, aged = self.p, self.config.aged
        if not p.is_open:
            return
        age = int((time - p.opened_at).total_seconds())
        step = aged.step(side=p.side, entry=p.entry_price, age_seconds=age, instrument=p.instrument,
                         status=p.status, phase=p.aged_phase, resting=p.exit_limit)
        if step.ages:
            p.age(age_seconds=age, max_age_seconds=aged.max_age_seconds, at=time)
        if step.enters is not None:
            p.enter_aged_phase(phase=step.enters.phase, limit_price=step.enters.limit_price, at=time)
        mark = p.last_mark
        if step.market:
            if p.exit_resting:
                self._exit_order(ExitAction.CANCEL, None, time)
            p.request_close(reason=CloseReason.AGED_EXIT, client_order_id=None, limit_price=None, at=time)
            p.close(exit_price=mark, fees=self.exit_fees(), reason=CloseReason.AGED_EXIT, at=time)
            self.note = "aged exit at market assumed at the last price"
        elif step.rest_at is not None:
            self._exit_order(ExitAction.AMEND if p.exit_resting else ExitAction.PLACE, step.rest_at, time)
            if mark is not None and p.side.sign * (mark - step.rest_at) >= 0:  # takes at once
                self._exit_fills(mark, time, "the aged exit order filled at once at the last price")

    def _exit_order(self, action: ExitAction, price: Decimal | None, time: datetime) -> None:
        """The exit order's action, confirmed as asked (there is no venue)."""
        p = self.p
        p.request_exit_order(action=action, price=price, quantity=p.filled_qty, phase=p.aged_phase,
                             at=time, client_order_id=WHATIF_ORDER)
        if action is ExitAction.PLACE:
            p.confirm_exit_order(order_id=WHATIF_ORDER, price=price, at=time)
        elif action is ExitAction.AMEND:
            p.confirm_exit_amend(price=price, at=time)
        else:
            p.confirm_exit_cancel(filled_qty=ZERO, reason="the hard limit", at=time)

    def _exit_fills(self, price: Decimal, time: datetime, note: str) -> None:
        p = self.p
        p.record_exit_fill(filled_qty=p.filled_qty, average_price=price, at=time)
        p.close(exit_price=price, fees=self.exit_fees(), reason=CloseReason.AGED_EXIT, at=time)
        self.note = note

    def exit_fees(self) -> Decimal:
        """The recorded exit's fees: the same quantity leaves either way."""
        return getattr(self.recorded_close, "fees", ZERO) or ZERO
