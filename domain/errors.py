"""Typed domain errors. Business rules raise these; they never rely on ``assert``."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every rule the domain refuses to break."""


class InvalidTransition(DomainError):
    """An event the lifecycle table does not allow from the current status. ``to`` is the status
    the event would lead to (the event itself when it never changes the status)."""

    def __init__(self, from_status: object, to: object, event: object = None) -> None:
        self.from_status = from_status
        self.to = to
        self.event = event
        detail = f" ({_name(event)})" if event is not None and event is not to else ""
        super().__init__(f"{_name(from_status)} -> {_name(to)}{detail}")


class ImpossibleFill(DomainError):
    """A fill with a price or quantity <= 0: the seed bot's 0.0 execution price."""


class InvalidStop(DomainError):
    """A stop-loss that must not be sent: <= 0, below the minimum price, off-tick or on the wrong
    side of its reference price."""


class StopWouldLoosen(InvalidStop):
    """A move that would take the stop away from the position's favour."""


class InvalidSignal(DomainError):
    """A signal whose content cannot open a position."""


class OutOfRange(DomainError):
    """A price or quantity too large or too fine to express in the instrument's steps (1e30 of a
    coin with a 0.001 step needs more digits than decimal arithmetic carries)."""


class InvalidMark(DomainError):
    """A mark price that cannot be real (<= 0, NaN or infinite)."""


class EntryAlreadyRequested(DomainError):
    """A second entry order for a position that already announced one."""


class NotAgedYet(DomainError):
    """Aging a position that has not reached its maximum age."""


class AgedPhaseOutOfOrder(DomainError):
    """An aged-exit phase that does not come after the current one."""


class InvalidExitOrder(DomainError):
    """An exit order command that does not fit the exit order's state (a second one placed while
    one rests, an amendment or cancellation of none, an outcome with no request pending) or a
    price that cannot be sent."""


class PositionBusy(DomainError):
    """A command that must wait until the position's pending intent is settled."""


class InvalidInstrument(DomainError):
    """Instrument metadata that cannot be traded on (non-positive tick size, ...)."""


def _name(value: object) -> str:
    if isinstance(value, type):
        return value.__name__
    return getattr(value, "name", str(value))
