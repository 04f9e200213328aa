"""The demo's running commentary: one readable line per notable event, as each save happens
(the sentence `warden replay` prints too: projections/narrative.py).

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
from warden.engine.core import Engine
from warden.projections.narrative import describe

QUIET = (ev.MarkPriceObserved, ev.FillReported, ev.StopLossRequested,
         ev.EntryOrderRequested, ev.ExitOrderRequested, ev.AccountRegistered)


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
            line = describe(event)
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
