"""The position lifecycle as data: statuses, triggers and the one table that joins them.

Read the table as "from this status, this trigger leads there". Anything not in it is illegal and
raises `InvalidTransition("FROM -> TRIGGER")`. CLOSED has no outgoing edge: it is terminal.
"""

from __future__ import annotations

from enum import Enum

from warden.domain.errors import InvalidTransition


class Status(Enum):
    PENDING = "pending"
    FILLED = "filled"
    PROTECTED = "protected"
    TRAILING = "trailing"
    AGED = "aged"
    CLOSED = "closed"


class Trigger(Enum):
    ENTRY_ORDER_REQUESTED = "entry_order_requested"
    ENTRY_ORDER_PLACED = "entry_order_placed"
    FILL_UNRESOLVED = "fill_unresolved"
    ENTRY_FILLED = "entry_filled"
    FILL_REFUSED = "fill_refused"
    ENTRY_REJECTED = "entry_rejected"
    STOP_REQUESTED = "stop_requested"
    STOP_PLACED = "stop_placed"
    STOP_REJECTED = "stop_rejected"
    MARK_OBSERVED = "mark_observed"
    TRAILING_ACTIVATED = "trailing_activated"
    STOP_MOVED = "stop_moved"
    AGED = "aged"
    AGED_PHASE = "aged_phase"
    CLOSE_REQUESTED = "close_requested"
    CLOSED = "closed"
    ROLLED_BACK = "rolled_back"


P, F, PR, T, A, C = (Status.PENDING, Status.FILLED, Status.PROTECTED, Status.TRAILING,
                     Status.AGED, Status.CLOSED)

TRANSITIONS: dict[tuple[Status, Trigger], Status] = {
    (P, Trigger.ENTRY_ORDER_REQUESTED): P,  # intent first, then the order
    (P, Trigger.ENTRY_ORDER_PLACED): P,
    (P, Trigger.FILL_UNRESOLVED): P,
    (P, Trigger.CLOSE_REQUESTED): P,  # an entry whose fill is unknown may have to be closed
    (P, Trigger.ENTRY_FILLED): F,
    (P, Trigger.FILL_REFUSED): P,  # an impossible fill report is recorded, never applied
    (P, Trigger.ENTRY_REJECTED): C,  # rejected or cancelled before any fill
    (P, Trigger.MARK_OBSERVED): P,
    (F, Trigger.ENTRY_FILLED): F,  # partial fills accumulate
    (F, Trigger.FILL_REFUSED): F,
    (F, Trigger.STOP_REQUESTED): F,
    (F, Trigger.STOP_REJECTED): F,  # corrected and retried, or rolled back
    (F, Trigger.STOP_PLACED): PR,  # protected only once the exchange confirms the stop
    (F, Trigger.MARK_OBSERVED): F,
    (F, Trigger.CLOSE_REQUESTED): F,
    (F, Trigger.ROLLED_BACK): C,  # could not protect it: closed at market
    (F, Trigger.CLOSED): C,  # real world: liquidated or closed outside before protection landed
    (PR, Trigger.ENTRY_FILLED): PR,  # a late partial fill; the position stop covers the whole size
    (PR, Trigger.FILL_REFUSED): PR,
    (PR, Trigger.STOP_REQUESTED): PR,
    (PR, Trigger.STOP_REJECTED): PR,  # the previous stop stays in force
    (PR, Trigger.STOP_PLACED): PR,  # re-placed, e.g. after a restart found it missing
    (PR, Trigger.MARK_OBSERVED): PR,
    (PR, Trigger.TRAILING_ACTIVATED): T,
    (PR, Trigger.AGED): A,
    (PR, Trigger.CLOSE_REQUESTED): PR,
    (PR, Trigger.CLOSED): C,
    (T, Trigger.STOP_REQUESTED): T,
    (T, Trigger.STOP_REJECTED): T,
    (T, Trigger.STOP_MOVED): T,
    (T, Trigger.STOP_PLACED): T,  # the old stop restored after a failed move, or after a restart
    (T, Trigger.MARK_OBSERVED): T,
    (T, Trigger.AGED): A,
    (T, Trigger.CLOSE_REQUESTED): T,
    (T, Trigger.CLOSED): C,
    (A, Trigger.STOP_REQUESTED): A,
    (A, Trigger.STOP_REJECTED): A,
    (A, Trigger.STOP_MOVED): A,  # the trailing stop keeps ratcheting while the aged exit works
    (A, Trigger.STOP_PLACED): A,
    (A, Trigger.MARK_OBSERVED): A,
    (A, Trigger.AGED_PHASE): A,
    (A, Trigger.CLOSE_REQUESTED): A,
    (A, Trigger.CLOSED): C,
}

OPEN_STATUSES = frozenset(s for s in Status if s is not Status.CLOSED)
PROTECTED_STATUSES = frozenset({Status.PROTECTED, Status.TRAILING, Status.AGED})


# Where a status-changing trigger leads, for naming an illegal move as "FROM -> TO".
_TARGET = {
    Trigger.ENTRY_FILLED: F,
    Trigger.ENTRY_REJECTED: C,
    Trigger.STOP_PLACED: PR,
    Trigger.TRAILING_ACTIVATED: T,
    Trigger.AGED: A,
    Trigger.CLOSED: C,
    Trigger.ROLLED_BACK: C,
}


def next_status(status: Status, trigger: Trigger) -> Status:
    """The status ``trigger`` leads to from ``status``; raises `InvalidTransition` if illegal."""
    try:
        return TRANSITIONS[status, trigger]
    except KeyError:
        raise InvalidTransition(status, _TARGET.get(trigger, trigger), trigger) from None


def reachable(start: Status) -> frozenset[Status]:
    """Every status reachable from ``start`` through the table (``start`` included)."""
    seen = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in seen:
                seen.add(target)
                frontier.append(target)
    return frozenset(seen)
