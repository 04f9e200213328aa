"""Event handler tables for the aggregates' ``when`` methods.

``when`` runs once per event on every replay, so it is a dictionary lookup (along the event's
class hierarchy, so a subclass falls back to its base's handler), not `functools.singledispatch`,
which rebuilt a wrapper on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], None]


class Handlers:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._table: dict[type, Handler] = {}

    def __call__(self, event_class: type) -> Callable[[Handler], Handler]:
        """Decorator: register the method as the handler of ``event_class``."""
        def register(handler: Handler) -> Handler:
            self._table[event_class] = handler
            return handler
        return register

    def include(self, other: Handlers) -> None:
        """Take ``other``'s handlers too (those of a mixin's events)."""
        self._table.update(other._table)

    def dispatch(self, aggregate: Any, event: object) -> None:
        for event_class in type(event).__mro__:
            handler = self._table.get(event_class)
            if handler is not None:
                handler(aggregate, event)
                return
        raise TypeError(f"{self.owner} has no handler for {type(event).__name__}")
