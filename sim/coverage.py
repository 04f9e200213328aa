"""The simulator's own record of stop coverage: when was an open position without a stop?

For every position (account, symbol, position index) from the fill that opens it to the fill
that closes it, the record keeps the intervals during which the venue held no protective stop
for it: neither a position stop (Bybit trading-stop) nor an open reduce-only / closePosition
trigger order on the adverse side (a stop, not a take-profit). The first interval of a position,
from its opening fill to its first stop, is an ENTRY gap; any later one (a stop cancelled before
its replacement was placed, a stop that expired) is a MOVE gap. A gap is recorded even when it
lasts 0 ms on the clock, so "no MOVE gap at all" is checkable with a `ManualClock`.

State is evaluated when an engine command ends (`Commands.settled`), so what one venue request
does atomically (Bybit's create-with-stopLoss) never shows as a gap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .book import Account, Order, Position, Side
from .events import EventKind, SimEvent
from .matching import protective

if TYPE_CHECKING:
    from .engine import Engine

Key = tuple[str, str, int]      # account, symbol, position index


class GapKind(enum.Enum):
    ENTRY = "entry"     # from the opening fill to the first stop
    MOVE = "move"       # after the position had been covered at least once


@dataclass
class Gap:
    kind: GapKind
    start_ms: int
    end_ms: int | None = None

    def duration(self, now_ms: int) -> int:
        return (self.end_ms if self.end_ms is not None else now_ms) - self.start_ms


@dataclass
class Lifetime:
    account: str
    symbol: str
    idx: int
    side: Side
    opened_ms: int
    closed_ms: int | None = None
    covered_once: bool = False
    gaps: list[Gap] = field(default_factory=list)

    @property
    def open_gap(self) -> Gap | None:
        return self.gaps[-1] if self.gaps and self.gaps[-1].end_ms is None else None


class Coverage:
    """Listens to the engine and keeps one `Lifetime` per position that was ever open."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lifetimes: list[Lifetime] = []
        self._current: dict[Key, Lifetime] = {}
        self._dirty: set[Key] = set()
        engine.listeners.append(self._on_event)
        engine.commands.settled.append(self._settle)

    def _on_event(self, event: SimEvent) -> None:
        if event.account is None or event.kind not in (EventKind.ORDER, EventKind.POSITION):
            return
        payload = event.payload
        if isinstance(payload, (Order, Position)):
            idx = payload.position_idx if isinstance(payload, Order) else payload.idx
            self._dirty.add((event.account, payload.symbol, idx))

    def _settle(self) -> None:
        now = self.engine.clock.now_ms()
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            account = self.engine.accounts[key[0]]
            self._evaluate(key, account.position(key[1], key[2]), account, now)

    def _evaluate(self, key: Key, pos: Position, account: Account, now: int) -> None:
        life = self._current.get(key)
        if life is not None and (pos.side is not life.side):   # closed, or flipped through 0
            if life.open_gap is not None:
                life.open_gap.end_ms = now
            life.closed_ms = now
            del self._current[key]
            life = None
        if pos.side is None:
            return
        if life is None:
            life = Lifetime(key[0], key[1], key[2], pos.side, now)
            self.lifetimes.append(life)
            self._current[key] = life
        covered = pos.stop_loss is not None or any(protective(o, pos)
                                                   for o in account.live.values())
        gap = life.open_gap
        if covered:
            life.covered_once = True
            if gap is not None:
                gap.end_ms = now
        elif gap is None:
            life.gaps.append(Gap(GapKind.MOVE if life.covered_once else GapKind.ENTRY, now))

    # -- queries -------------------------------------------------------------------------------
    def report(self, account: str | None = None, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every position lifetime with its uncovered intervals (durations up to now if open)."""
        now = self.engine.clock.now_ms()
        return [{"account": life.account, "symbol": life.symbol, "position_idx": life.idx,
                 "side": life.side.value, "opened_ms": life.opened_ms,
                 "closed_ms": life.closed_ms, "covered": life.covered_once,
                 "gaps": [{"kind": g.kind.value, "start_ms": g.start_ms, "end_ms": g.end_ms,
                           "duration_ms": g.duration(now)} for g in life.gaps]}
                for life in self.lifetimes
                if account in (None, life.account) and symbol in (None, life.symbol)]

    def largest(self, account: str | None = None, kind: GapKind | str | None = None,
                symbol: str | None = None) -> dict[str, Any] | None:
        """The longest uncovered interval (optionally of one kind), with its position; None if
        no position was ever uncovered."""
        wanted = GapKind(kind) if kind is not None else None
        best: dict[str, Any] | None = None
        for row in self.report(account, symbol):
            for gap in row["gaps"]:
                if wanted is not None and gap["kind"] != wanted.value:
                    continue
                if best is None or gap["duration_ms"] > best["duration_ms"]:
                    best = {**gap, "account": row["account"], "symbol": row["symbol"],
                            "position_idx": row["position_idx"]}
        return best
