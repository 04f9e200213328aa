"""Re-derive the engine's decisions from a recorded log and compare them with what it recorded.

For each position the stored events are folded one by one; before every recorded decision the
policy is asked again from the state the engine had at that moment:

- `TrailingActivated` must come when `TrailingStopPolicy.should_activate` says so for the mark
  just observed (and only then). Since the price tape a position records no marks: its
  `TrailingActivated` carries the price that activated it, which must be one that activates
  (whether an earlier price should have is a question for the tape, not the position's log);
- a trailing `StopLossRequested` must ask for `TrailingStopPolicy.next_stop` of the best price:
  the position's best so far, or the better ``reference_price`` the request records (the best
  price the engine saw since its last decision);
- an initial `StopLossRequested` must ask for `InitialStopPolicy.stop_for` of the real fill.

A replay that reproduces every decision returns no `Divergence`. This is how a recorded session
is checked after a policy change, and how the engine's decisions are shown to be replayable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.errors import InvalidStop
from warden.domain.lifecycle import Status
from warden.domain.policies import PositionPolicies
from warden.domain.values import StopPurpose


@dataclass(frozen=True)
class Divergence:
    version: int
    event: str
    recorded: Any
    replayed: Any


def replay_decisions(events: Iterable[Any], config: PositionPolicies) -> list[Divergence]:
    """Fold one position's ``events``; every decision must be what ``config``'s policies decide."""
    divergences: list[Divergence] = []
    position = None
    pending_activation: Decimal | None = None
    for event in events:
        if position is not None:
            divergence = _check(position, event, config, pending_activation)
            if divergence is not None:
                divergences.append(divergence)
        position = event.mutate(position)
        pending_activation = _activation_due(position, event, config)
    if pending_activation is not None:
        divergences.append(Divergence(position.version, "TrailingActivated", None, pending_activation))
    return divergences


def _activation_due(position: Any, event: Any, config: PositionPolicies) -> Decimal | None:
    """The mark after which the engine must activate trailing next, if it must."""
    if not isinstance(event, ev.MarkPriceObserved) or position.status is not Status.PROTECTED:
        return None
    due = config.trailing.should_activate(position.side, position.entry_price, event.price,
                                          position.trailing_activation_percent)
    return event.price if due else None


def _check(position: Any, event: Any, config: PositionPolicies,
           pending_activation: Decimal | None) -> Divergence | None:
    name = type(event).__name__
    if pending_activation is not None and not isinstance(event, ev.TrailingActivated):
        return Divergence(event.originator_version, "TrailingActivated", None, pending_activation)
    if isinstance(event, ev.TrailingActivated):
        if pending_activation is None and config.trailing.should_activate(
                position.side, position.entry_price, event.price, position.trailing_activation_percent):
            return None  # activated by the price it records (a log with the price tape)
        if pending_activation != event.price:
            return Divergence(event.originator_version, name, event.price, pending_activation)
    if not isinstance(event, ev.StopLossRequested):
        return None
    if event.purpose is StopPurpose.TRAIL:
        best = position.best_price
        if best is None or position.side.sign * (event.reference_price - best) > 0:
            best = event.reference_price
        replayed = config.trailing.next_stop(position.side, best, position.stop_price,
                                             position.instrument, position.trailing_callback_percent)
    elif event.purpose is StopPurpose.INITIAL:
        try:
            replayed = config.initial_stop.stop_for(position.side, position.entry_price,
                                                    position.instrument, position.stop_loss_percent)
        except InvalidStop:
            replayed = None
    else:
        return None  # corrections depend on the venue's answers, which the log records as facts
    return None if replayed == event.price else Divergence(event.originator_version, name,
                                                            event.price, replayed)
