"""`warden whatif`: a recorded position against the same position run again with other policy
parameters (`whatif_sim.py`), outcome by outcome and decision by decision.

The inputs are the position's entry fills and the prices of its symbol (`recorded.price_ticks`),
also after its recorded close where the log has them, plus the recorded exit fill as a price
traded at that moment. `compare` reads both sides the same way (`outcome`): stop moves, exit,
PnL (a position still open when the log ends is valued at its last price) and the decisions, and
finds the first decision that differs; `projections/decisions.py` checks the same decisions
against the recorded state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from warden.domain.policies import PositionPolicies
from warden.domain.values import ZERO, CloseReason, ExitAction, StopPurpose
from warden.projections.recorded import CLOSES, PositionLog, PriceTick, RecordedLog
from warden.projections.timeline import millis, show
from warden.projections.whatif_sim import simulate


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
        return f"{where}{millis(self.time)} {self.event} {self.detail}{price}"


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
        if name == "StopLossRequested" and e.purpose in (StopPurpose.INITIAL, StopPurpose.TRAIL):
            decided = (e.purpose.value, e.price)
        elif name == "TrailingActivated":
            decided = ("at", e.price)
        elif name == "PositionAged":
            decided = (f"past {e.max_age_seconds} s", None)
        elif name == "AgedPhaseEntered":
            decided = (f"phase {e.phase}, " + ("limit" if e.limit_price else "market"), e.limit_price)
        elif name == "ExitOrderRequested" and e.action is not ExitAction.CANCEL:
            decided = (f"exit order {e.action.value}", e.price)
        elif name == "CloseRequested":
            decided = (e.reason.name, e.limit_price)
        else:
            continue
        found.append(Decision(e.timestamp, name, *decided, e.originator_version if recorded else None))
    return found


def outcome(events: list[Any], ticks: Sequence[PriceTick], *, recorded: bool, note: str = "",
            exit_fees: Decimal = ZERO) -> Outcome:
    """What a position's events (its creation first) came to; one still open when the log ends is
    valued at the last of ``ticks`` less ``exit_fees``."""
    p = None
    for event in events:
        p = event.mutate(p)
    found = decisions(events, recorded=recorded)
    moves = sum(type(e).__name__ == "StopLossMoved" for e in events)
    if not p.is_open:
        return Outcome(events, found, moves, p.closed_at, p.exit_price, p.close_reason, p.realized_pnl, note)
    last = ticks[-1].price if ticks else p.last_mark
    pnl = None
    if last is not None and p.entry_price is not None:
        pnl = p.side.sign * (last - p.entry_price) * p.filled_qty - p.entry_fees - exit_fees
    opened = f"open at the end, valued at the last price {show(last)}" if last else "open at the end"
    return Outcome(events, found, moves, None, None, None, pnl, "; ".join(filter(None, [note, opened])))


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


def compare(position: PositionLog, log: RecordedLog, config: PositionPolicies) -> Comparison:
    created = position.created
    ticks = list(log.prices(created.venue, created.symbol, created.timestamp))
    close = next((e for e in reversed(position.history) if type(e).__name__ in CLOSES), None)
    if close is not None and close.exit_price:  # the exit fill is a price traded at that moment
        ticks = sorted([*ticks, PriceTick(close.timestamp, created.venue, created.symbol,
                                          close.exit_price, "exit fill")])
    recorded = outcome(position.history, ticks, recorded=True)
    run = simulate(position, ticks, config, log.end)
    whatif = outcome(run.events, ticks, recorded=False, note=run.note, exit_fees=run.exit_fees)
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
