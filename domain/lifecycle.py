"""The position lifecycle as data: statuses, and the one table keyed by what happened.

``TRANSITIONS[EventClass]`` maps each status the event may happen in to the status it leads to.
`Position` applies it once, where events are applied (``Position.when``), and its commands ask it
first (`check`), so a refused command records nothing. Anything not in the table is illegal and
raises `InvalidTransition("FROM -> TO")`. CLOSED has no outgoing edge: it is terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import wraps
from typing import Any, TypeVar

from warden.domain import events as ev
from warden.domain.errors import InvalidTransition


class Status(Enum):
    PENDING = "pending"
    FILLED = "filled"
    PROTECTED = "protected"
    TRAILING = "trailing"
    AGED = "aged"
    CLOSED = "closed"


class Intent(Enum):
    """What a position waits on the venue for: announced by an intent event, settled by its outcome."""

    ENTRY = "entry"  # EntryOrderRequested, until EntryOrderPlaced or EntryRejected
    STOP = "stop"  # StopLossRequested, until the stop is placed, moved or rejected
    CLOSE = "close"  # CloseRequested, until the position is closed
    SCALE_IN = "scale_in"  # ScaleInRequested, until ScaleInFilled or ScaleInRejected


P, F, PR, T, A, C = (Status.PENDING, Status.FILLED, Status.PROTECTED, Status.TRAILING,
                     Status.AGED, Status.CLOSED)

# Where a position starts, by the event that created it.
INITIAL: dict[type, Status] = {ev.SignalAccepted: P, ev.PositionAdopted: F}

TRANSITIONS: dict[type, dict[Status, Status]] = {
    ev.EntryOrderRequested: {P: P},  # intent first, then the order
    ev.EntryOrderPlaced: {P: P},
    ev.FillUnresolved: {P: P},
    ev.EntryFilled: {
        P: F,
        F: F,  # partial fills accumulate
        PR: PR,  # a late partial fill; the position stop covers the whole size
    },
    ev.FillRefused: {P: P, F: F, PR: PR},  # an impossible fill report is recorded, never applied
    ev.EntryRejected: {P: C},  # rejected or cancelled before any fill
    ev.MarkPriceObserved: {P: P, F: F, PR: PR, T: T, A: A},
    ev.StopLossRequested: {F: F, PR: PR, T: T, A: A},
    ev.StopLossRejected: {
        F: F,  # corrected and retried, or rolled back
        PR: PR,  # the previous stop stays in force
        T: T,
        A: A,
    },
    ev.StopLossPlaced: {
        F: PR,  # protected only once the exchange confirms the stop
        PR: PR,  # re-placed, e.g. after a restart found it missing
        T: T,  # the old stop restored after a failed move, or after a restart
        A: A,
    },
    ev.TrailingActivated: {PR: T},
    ev.StopLossMoved: {
        T: T,
        A: A,  # the trailing stop keeps ratcheting while the aged exit works
    },
    ev.PositionAged: {PR: A, T: A},
    ev.AgedPhaseEntered: {A: A},
    # the aged exit's resting limit order: an intent and its outcome, while the position is AGED
    ev.ExitOrderRequested: {A: A},
    ev.ExitOrderPlaced: {A: A},
    ev.ExitOrderAmended: {A: A},
    ev.ExitOrderFilled: {A: A},
    ev.ExitOrderCancelled: {A: A},
    ev.ExitOrderRejected: {A: A},
    ev.CloseRequested: {
        P: P,  # an entry whose fill is unknown may have to be closed
        F: F,
        PR: PR,
        T: T,
        A: A,
    },
    ev.PositionClosed: {
        F: C,  # real world: liquidated or closed outside before protection landed
        PR: C,
        T: C,
        A: C,
    },
    ev.PositionRolledBack: {F: C},  # could not protect it: closed at market
    # a signal adding to the open position (the scale_in policy): only once it is protected
    ev.ScaleInRequested: {PR: PR, T: T, A: A},
    ev.ScaleInFilled: {PR: PR, T: T, A: A},  # the one stop covers the new size
    ev.ScaleInRejected: {PR: PR, T: T, A: A},
    # an adopted position that was still filling when warden found it: its size follows the venue's
    ev.AdoptedPositionGrew: {F: F, PR: PR, T: T, A: A},
}

PROTECTED_STATUSES = frozenset({Status.PROTECTED, Status.TRAILING, Status.AGED})


def next_status(status: Status, event_class: type) -> Status:
    """The status an ``event_class`` event leads to from ``status``; `InvalidTransition` if illegal."""
    try:
        return TRANSITIONS[event_class][status]
    except KeyError:
        raise InvalidTransition(status, leads_to(event_class) or event_class, event_class) from None


def check(status: Status, event_class: type) -> None:
    """Raise `InvalidTransition` unless the table allows ``event_class`` in ``status``."""
    next_status(status, event_class)


Command = TypeVar("Command", bound=Callable[..., None])


def records(event_class: type) -> Callable[[Command], Command]:
    """Declare the event an aggregate command records; the command is refused (`InvalidTransition`)
    before any other check when this table does not allow that event in the current status."""
    def declare(command: Command) -> Command:
        @wraps(command)
        def guarded(self: Any, **kwargs: Any) -> None:
            check(self.status, event_class)
            command(self, **kwargs)
        guarded.records = event_class  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
    return declare


def leads_to(event_class: type) -> Status | None:
    """The status ``event_class`` moves a position into, or None if it never changes the status
    (the table gives every event at most one: tests/unit/domain/test_lifecycle.py)."""
    moves = {to for source, to in TRANSITIONS.get(event_class, {}).items() if to is not source}
    return next(iter(moves)) if len(moves) == 1 else None


def reachable(start: Status) -> frozenset[Status]:
    """Every status reachable from ``start`` through the table (``start`` included)."""
    seen = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for edges in TRANSITIONS.values():
            target = edges.get(current)
            if target is not None and target not in seen:
                seen.add(target)
                frontier.append(target)
    return frozenset(seen)
