"""Projections that misbehave on purpose, for the runner and supervisor tests."""

from __future__ import annotations

import threading
from decimal import Decimal

from tests.builders import at, protected
from warden.adapters.store import WardenStore
from warden.domain.position import Position
from warden.domain.values import PriceSource
from warden.projections.positions_view import PositionsView


class Boom(RuntimeError):
    pass


class CrashingView(PositionsView):
    """Raises while folding its ``crash_at``-th event (counted over the object's life, so once)."""

    def __init__(self, store: WardenStore, crash_at: int) -> None:
        super().__init__(store)
        self.crash_at, self.seen = crash_at, 0

    def fold(self, touched, event) -> None:
        self.seen += 1
        if self.seen == self.crash_at:
            raise Boom(f"injected at event {self.seen}")
        super().fold(touched, event)


class StallingView(PositionsView):
    """Its first batch blocks (inside the transaction) until ``release`` is set."""

    def __init__(self, store: WardenStore) -> None:
        super().__init__(store)
        self.release, self.blocked = threading.Event(), threading.Event()

    def apply(self, tx, events) -> None:
        if not self.blocked.is_set():
            self.blocked.set()
            self.release.wait(timeout=10)
        super().apply(tx, events)


def marked(n_positions: int, marks: int) -> list[Position]:
    """``n_positions`` protected positions of ``5 + marks`` events each."""
    positions = [protected(signal_id=f"m{i}") for i in range(n_positions)]
    for p in positions:
        for k in range(marks):
            p.observe_mark(price=Decimal(60000 + k), source=PriceSource.MARK, at=at(10 + k))
    return positions
