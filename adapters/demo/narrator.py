"""The demo's running commentary: one readable line per notable event, as each save happens.

`Narrator` is an engine save listener (`EngineContext.listeners`). It also keeps a reference to
every position it sees, live, so the summary can compare the live aggregates with the ones
rebuilt from the store, and it labels each position with the scenario that opened it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from warden.domain import events as ev
from warden.domain.position import Position
from warden.domain.values import CloseBasis
from warden.engine.core import Engine
from warden.projections.timeline import show

QUIET = (ev.MarkPriceObserved, ev.FillReported, ev.StopLossRequested,
         ev.EntryOrderRequested, ev.AccountRegistered)


class Narrator:
    def __init__(self, engine: Engine, echo: Callable[[str], None]) -> None:
        self.engine, self.echo = engine, echo
        self.positions: dict[UUID, Position] = {}  # every position seen, in order of appearance
        self.labels: dict[UUID, str] = {}
        self.scenario = ""
        engine.ctx.listeners.append(self)

    def label(self, position_id: UUID, scenario: str) -> None:
        self.labels[position_id] = scenario

    def __call__(self, recordings: list[Any]) -> None:
        for recording in recordings:
            event = recording.domain_event
            position = self.engine.ctx.positions.get(event.originator_id)
            if position is not None:
                self.positions.setdefault(position.id, position)
                self.labels.setdefault(position.id, self.scenario)
            if isinstance(event, QUIET):
                continue
            line = self.describe(event)
            if line is None:
                continue
            self.echo(f"  {event.timestamp:%H:%M:%S.%f}"[:-3] + f"  {self._who(event)}  {line}")

    def _who(self, event: Any) -> str:
        """Venue, symbol and side of the position an event belongs to, or the account's name."""
        p = self.positions.get(event.originator_id)
        if p is None and isinstance(event, ev.SignalAccepted):
            p = event
        if p is not None:
            return f"{p.venue:<11} {p.symbol:<13} {p.side.name:<5}"
        account = next((a for a in self.engine.reconciler.accounts.values()
                        if a.id == event.originator_id), None)
        name = f"{account.venue}/{account.account}" if account else "?"
        return f"{name + ' account':<31}"

    def describe(self, e: Any) -> str | None:
        """The line for one event, or None for an event not worth a line."""
        match e:
            case ev.SignalAccepted():
                return f"signal {e.signal_id} accepted: {e.side.name} {show(e.quantity)}"
            case ev.PositionAdopted():
                return (f"ADOPTED from the exchange's report: {show(e.quantity)} "
                        f"at {show(e.entry_price)} ({e.price_source.name})")
            case ev.EntryOrderPlaced():
                return f"entry order placed, order id {e.order_id}"
            case ev.EntryFilled():
                return f"filled at {show(e.price)} (source {e.price_source.name})"
            case ev.FillRefused():
                return f"refused fill at {show(e.price)} from {e.price_source.name}: {e.reason}"
            case ev.FillUnresolved():
                return f"fill price not known yet: {e.reason}"
            case ev.StopLossPlaced():
                return f"stop placed at {show(e.price)}: PROTECTED"
            case ev.StopLossRejected():
                return f"stop {show(e.price)} REJECTED ({e.code}): {e.reason}"
            case ev.TrailingActivated():
                return f"trailing activated at {show(e.price)}"
            case ev.StopLossMoved():
                return (f"stop moved {show(e.old_price)} -> {show(e.new_price)} "
                        f"(best {show(e.reference_price)})")
            case ev.PositionAged():
                return f"AGED: {e.age_seconds} s old, max {e.max_age_seconds} s"
            case ev.AgedPhaseEntered():
                limit = show(e.limit_price) if e.limit_price is not None else "market"
                return f"aged phase {e.phase}: exit at {limit} or better"
            case ev.CloseRequested():
                return f"closing at market ({e.reason.name})"
            case ev.PositionClosed():
                by = f" by {show(e.closed_by)}" if e.closed_by is not None else ""
                guess = " (a guess from the price)" if e.basis is CloseBasis.PRICE_GUESS else ""
                return (f"CLOSED {e.reason.name}{guess} at {show(e.exit_price) if e.exit_price else '?'}"
                        f"{by}, PnL {show(e.realized_pnl) if e.realized_pnl is not None else '?'}")
            case ev.PositionRolledBack():
                return f"ROLLED BACK: {e.reason}"
            case ev.PhantomDetected():
                return (f"PHANTOM {e.report.symbol}: {e.report.side.name if e.report.side else '?'} "
                        f"{show(e.report.size)} open on the exchange, untracked; policy {e.action.value}")
            case ev.PositionMismatch():
                return f"MISMATCH {e.report.symbol}: exchange size {show(e.report.size)}"
            case ev.PositionReported() if e.report.is_flat:
                return f"{e.report.symbol} reported flat ({e.report.source.name})"
            case ev.PositionsSnapshotted():
                held = ", ".join(sorted(r.symbol for r in e.reports)) or "nothing"
                return f"REST snapshot: {held} open"
            case ev.StreamFrameRejected():
                return f"garbage frame on {e.feed}: {e.reason}"
        return None
