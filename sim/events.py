"""What the matching engine reports, and where a command ends.

Every state change is a `SimEvent` handed to the engine's listeners synchronously (the websocket
surfaces turn them into pushes). Some observers only care about the state once a whole command
is done (Bybit's create-with-stopLoss attaches the stop in the same request, so nobody should see
the position naked in between): they register in `settled`, which runs when the outermost
`@command` returns.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar


class EventKind(enum.Enum):
    ORDER = "order"
    FILL = "fill"
    POSITION = "position"
    BALANCE = "balance"
    PRICE = "price"


class Action(enum.Enum):
    """What happened to an order in an ORDER event (Binance's execution type `x`)."""

    CREATED = "created"
    TRADE = "trade"
    CANCELLED = "cancelled"
    AMENDED = "amended"
    UPDATED = "updated"         # e.g. a position stop moved with the position


@dataclass(frozen=True)
class SimEvent:
    kind: EventKind
    account: str | None
    payload: object
    venue: str | None = None
    action: Action | None = None


F = TypeVar("F", bound=Callable[..., Any])


class Commands:
    """Counts nested commands; when the outermost one returns, `settled` callbacks run."""

    def __init__(self) -> None:
        self.settled: list[Callable[[], None]] = []
        self._depth = 0

    def enter(self) -> None:
        self._depth += 1

    def leave(self) -> None:
        self._depth -= 1
        if not self._depth:
            for callback in list(self.settled):
                callback()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Several engine commands that the venue performs as one request."""
        self.enter()
        try:
            yield
        finally:
            self.leave()


def command(fn: F) -> F:
    """Mark an engine method as one command: observers in `settled` see its end state only."""
    @functools.wraps(fn)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.commands.enter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            self.commands.leave()
    return run  # type: ignore[return-value]
