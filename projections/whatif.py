"""`warden whatif`: a recorded position run again through today's policies with other parameters.

The recorded inputs of one position are its entry fills, the prices of its symbol (from
`recorded.price_ticks`, also after its recorded close where the log has them) and, for a close
that no policy decided (closed by hand, liquidated, rolled back), that close at its recorded time
and price. They drive a fresh `Position` through its own commands, with the decisions of the pure
policies of `domain/policies.py` as the engine takes them; there is no exchange:

- every stop is placed and every move confirmed as asked; the initial stop at the first fill;
- a stop is hit when a price reaches it, and the exit is assumed at the stop price;
- an aged exit closes at the last price seen; aged thresholds fall at their exact times;
- trailing moves keep the policy's minimum interval, measured on the recorded prices' times;
- a position still open when the prices end is valued at the last price (``open at end``).

`compare` puts the recorded and the what-if outcome side by side with the first decision that
differs; `projections/decisions.py` checks the same decisions against the recorded state.
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
from warden.domain.values import ZERO, CloseReason, PriceSource
from warden.engine.context import EngineConfig
from warden.projections.recorded import PositionLog, PriceTick, RecordedLog
from warden.projections.timeline import show

POLICY_CLOSES = (CloseReason.STOP_HIT, CloseReason.TRAILING_STOP_HIT, CloseReason.AGED_EXIT)
MOVABLE = (Status.TRAILING, Status.AGED)
AGEABLE = (Status.PROTECTED, Status.TRAILING)
_FILL, _PRICE, _TIMER, _EXTERNAL = range(4)  # order of inputs at one instant


@dataclass(frozen=True)
class Decision:
    time: datetime
    event: str
    detail: str  # e.g. "trail", "phase 2, limit", "AGED_EXIT"
    price: Decimal | None
    version: int | None  # the recorded event's version; None for a what-if decision

    @property
    def key(self) -> tuple[str, str, Decimal | None]:
        """What is compared: the time may differ (an aged tick), the decision may not."""
        return self.event, self.detail, self.price

    def describe(self) -> str:
        where = f"v{self.version} " if self.version is not None else ""
        price = f" {show(self.price)}" if self.price is not None else ""
        return f"{where}{self.time:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" {self.event} {self.detail}{price}"


@dataclass(frozen=True)
class Outcome:
    events: list[Any]  # the position's events, its creation first
    decisions: list[Decision]
    stop_moves: int
    exit_time: datetime | None
    exit_price: Decimal | None
    reason: CloseReason | None
    pnl: Decimal | None  # realized; for a position open at the end, valued at the last price
    note: str = ""


def decisions(events: Sequence[Any], *, recorded: bool = True) -> list[Decision]:
    """What the policies decided: initial and trailing stops, activations, aged steps, closes."""
    found = []
    for e in events:
        name = type(e).__name__
        if name == "StopLossRequested" and e.purpose in ("initial", "trail"):
            decided = (e.purpose, e.price)
        elif name == "TrailingActivated":
            decided = ("at", e.price)
        elif name == "PositionAged":
            decided = (f"past {e.max_age_seconds} s", None)
        elif name == "AgedPhaseEntered":
            decided = (f"phase {e.phase}, " + ("limit" if e.limit_price else "market"), e.limit_price)
        elif name == "CloseRequested":
            decided = (e.reason.name, e.limit_price)
        else:
            continue
        found.append(Decision(e.timestamp, name, *decided, e.originator_version if recorded else None))
    return found


def recorded_outcome(position: PositionLog, ticks: Sequence[PriceTick]) -> Outcome:
    """What happened, read from the log."""
    history = position.history
    p = None
    for event in history:
        p = event.mutate(p)
    moves = sum(type(e).__name__ == "StopLossMoved" for e in history)
    if p.is_open:
        return _open_at_end(history, decisions(history), moves, p, ticks)
    return Outcome(history, decisions(history), moves, p.closed_at, p.exit_price, p.close_reason,
                   p.realized_pnl)


def simulate(position: PositionLog, ticks: Sequence[PriceTick], config: EngineConfig,
             end: datetime | None = None) -> Outcome:
    """The position's recorded inputs run through ``config``'s policies (see the module doc); the
    clock stops at ``end`` (the log's last event): nothing is known after it."""
    return _Run(position, config, end).run(ticks)


def _open_at_end(events: list[Any], found: list[Decision], moves: int, p: Any,
                 ticks: Sequence[PriceTick], exit_fees: Decimal = ZERO) -> Outcome:
    """A position still open when the log ends, valued at its last price less ``exit_fees``."""
    last = ticks[-1].price if ticks else p.last_mark
    pnl = None
    if last is not None and p.entry_price is not None:
        pnl = p.side.sign * (last - p.entry_price) * p.filled_qty - p.entry_fees - exit_fees
    note = f"open at the end, valued at the last price {show(last)}" if last else "open at the end"
    return Outcome(events, found, moves, None, None, None, pnl, note)


def _reason(close: Any) -> CloseReason:
    """A recorded close's reason (a rollback's ``reason`` is its explanation, not a `CloseReason`)."""
    reason = getattr(close, "reason", None)
    return reason if isinstance(reason, CloseReason) else CloseReason.ROLLED_BACK


class _Run:
    """One what-if run: a heap of timed inputs applied to a fresh aggregate by its commands."""

    def __init__(self, position: PositionLog, config: EngineConfig, end: datetime | None) -> None:
        self.position, self.config, self.end = position, config, end
        self.p = position.created.mutate(None)  # the recorded creation: same id, side, instrument
        self.inputs: list[tuple[datetime, int, int, Any]] = []
        self.last_move: datetime | None = None
        self.wake_at: datetime | None = None
        self.note = ""
        recorded = position.history
        self.fills = [e for e in recorded if type(e).__name__ == "EntryFilled"]
        closes = [e for e in recorded if type(e).__name__ in ("PositionClosed", "PositionRolledBack")]
        self.recorded_close = closes[-1] if closes else None

    def push(self, time: datetime, order: int, payload: Any = None) -> None:
        if self.end is not None and time > self.end:
            return
        heapq.heappush(self.inputs, (time, order, len(self.inputs), payload))

    def run(self, ticks: Sequence[PriceTick]) -> Outcome:
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
        events = [self.position.created, *p.collect_events()]
        moves = sum(type(e).__name__ == "StopLossMoved" for e in events)
        found = decisions(events, recorded=False)
        if p.is_open:
            return _open_at_end(events, found, moves, p, ticks, self._exit_fees())
        return Outcome(events, found, moves, p.closed_at, p.exit_price, p.close_reason,
                       p.realized_pnl, self.note)

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
        p.request_stop(price=stop, reference_price=p.entry_price, purpose="initial", at=at)
        p.stop_placed(price=stop, reference_price=p.entry_price, order_id=None, at=at)

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
            p.close(exit_price=p.stop_price, fees=self._exit_fees(), reason=reason, at=time)
            self.note = "exit assumed at the stop price"
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
        p.request_stop(price=target, reference_price=best, purpose="trail", at=time)
        p.stop_moved(new_price=target, reference_price=best, order_id=None, at=time)
        self.last_move = time

    def _aged(self, time: datetime) -> None:
        p, aged = self.p, self.config.aged
        if not p.is_open:
            return
        age = int((time - p.opened_at).total_seconds())
        if p.status in AGEABLE and aged.is_aged(age):
            p.age(age_seconds=age, max_age_seconds=aged.max_age_seconds, at=time)
        if p.status is not Status.AGED:
            return
        decision = aged.decision(p.side, p.entry_price, age, p.instrument)
        if decision is None:
            return
        if decision.phase > p.aged_phase:
            p.enter_aged_phase(phase=decision.phase, limit_price=decision.limit_price, at=time)
        limit, mark = decision.limit_price, p.last_mark
        if limit is None or (mark is not None and p.side.sign * (mark - limit) >= 0):
            p.request_close(reason=CloseReason.AGED_EXIT, client_order_id=None, limit_price=limit, at=time)
            p.close(exit_price=mark, fees=self._exit_fees(), reason=CloseReason.AGED_EXIT, at=time)
            self.note = "aged exit assumed at the last price"

    def _exit_fees(self) -> Decimal:
        """The recorded exit's fees: the same quantity leaves either way."""
        return getattr(self.recorded_close, "fees", ZERO) or ZERO


@dataclass(frozen=True)
class Comparison:
    position: PositionLog
    recorded: Outcome
    whatif: Outcome
    difference: tuple[Decision | None, Decision | None] | None  # the first (recorded, what-if) pair

    @property
    def overrides(self) -> dict[str, Decimal]:
        """The signal's own parameters, which win over the policy's as they do in the engine."""
        created = self.position.created
        names = ("stop_loss_percent", "trailing_activation_percent", "trailing_callback_percent")
        return {n: getattr(created, n) for n in names if getattr(created, n, None) is not None}


def compare(position: PositionLog, log: RecordedLog, config: EngineConfig) -> Comparison:
    created = position.created
    ticks = list(log.prices(created.venue, created.symbol, created.timestamp))
    close = next((e for e in reversed(position.history)
                  if type(e).__name__ in ("PositionClosed", "PositionRolledBack")), None)
    if close is not None and close.exit_price:  # the exit fill is a price traded at that moment
        ticks = sorted([*ticks, PriceTick(close.timestamp, created.venue, created.symbol,
                                          close.exit_price, "exit fill")])
    until = [t for t in ticks if position.closed_at is None or t.time <= position.closed_at]
    recorded = recorded_outcome(position, until)
    whatif = simulate(position, ticks, config, log.end)
    return Comparison(position, recorded, whatif, first_difference(recorded.decisions, whatif.decisions))


def first_difference(recorded: Sequence[Decision],
                     whatif: Sequence[Decision]) -> tuple[Decision | None, Decision | None] | None:
    """The first pair of decisions that differ in kind or value (times may differ), if any."""
    for i in range(max(len(recorded), len(whatif))):
        a = recorded[i] if i < len(recorded) else None
        b = whatif[i] if i < len(whatif) else None
        if a is None or b is None or a.key != b.key:
            return a, b
    return None
