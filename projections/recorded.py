"""A recorded log read for looking back (`warden report`, `warden whatif`).

`read_recorded` takes the decoded events in recorded order and sorts them once into what both
commands need: each position's own history, the account events that concern it (reports and
fills of its symbol, phantoms, snapshots, rejected frames) and the prices per (venue, symbol).

`price_ticks` is the one place that knows where prices are in a log. Today every price is a
`MarkPriceObserved` on each position that saw it, so a tick seen by two positions of one symbol
is recorded twice; the ticks are deduplicated on (venue, symbol, time, price). A second source,
such as a per-(venue, symbol) price tape, is one more branch in that function.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

CREATIONS = ("SignalAccepted", "PositionAdopted")  # the events that start a position's history


@dataclass(frozen=True, order=True)
class PriceTick:
    time: datetime
    venue: str
    symbol: str
    price: Decimal
    source: str = field(default="", compare=False)  # what recorded it, e.g. "mark"


def price_ticks(events: Iterable[Any]) -> Iterator[PriceTick]:
    """Every price the log holds, in recorded order, once per (venue, symbol, time, price)."""
    where: dict[UUID, tuple[str, str]] = {}
    seen: set[tuple[str, str, datetime, Decimal]] = set()
    for event in events:
        name = type(event).__name__
        if name in CREATIONS:
            where[event.originator_id] = (event.venue, event.symbol)
        elif name == "MarkPriceObserved" and event.originator_id in where:
            venue, symbol = where[event.originator_id]
            key = (venue, symbol, event.timestamp, event.price)
            if key not in seen:
                seen.add(key)
                yield PriceTick(event.timestamp, venue, symbol, event.price, _source(event))


def _source(event: Any) -> str:
    source = getattr(event, "source", None)
    return getattr(source, "value", str(source or ""))


@dataclass(frozen=True)
class PositionLog:
    """One position: its own events and the account events about it, both oldest first."""

    id: UUID
    history: list[Any]
    context: list[Any]

    @property
    def created(self) -> Any:
        return self.history[0]

    @property
    def closed_at(self) -> datetime | None:
        last = self.history[-1]
        return last.timestamp if type(last).__name__ in ("PositionClosed", "PositionRolledBack") else None

    def describe(self) -> str:
        c = self.created
        return f"{c.venue} {c.symbol} {c.side.name} {str(self.id)[:8]}"


@dataclass
class RecordedLog:
    positions: dict[UUID, PositionLog]
    ticks: dict[tuple[str, str], list[PriceTick]]  # per (venue, symbol), in time order
    end: datetime | None  # the time of the last event

    def prices(self, venue: str, symbol: str, start: datetime | None = None,
               end: datetime | None = None) -> Sequence[PriceTick]:
        """The ticks of one symbol from ``start`` to ``end`` inclusive."""
        ticks = self.ticks.get((venue, symbol), [])
        times = [t.time for t in ticks]
        lo = 0 if start is None else bisect.bisect_left(times, start)
        hi = len(ticks) if end is None else bisect.bisect_right(times, end)
        return ticks[lo:hi]

    def select(self, refs: Sequence[str]) -> list[PositionLog]:
        """The positions named by full ids or unique prefixes; all of them when ``refs`` is empty."""
        if not refs:
            return list(self.positions.values())
        return [self.positions[_resolve(ref, self.positions)] for ref in refs]


class UnknownPosition(LookupError):
    pass


def _resolve(ref: str, positions: dict[UUID, PositionLog]) -> UUID:
    prefix = ref.replace("-", "").lower()
    if len(prefix) < 6:
        raise UnknownPosition(f"{ref!r} is neither a position id nor a prefix of >= 6 hex digits")
    found = [pid for pid in positions if pid.hex.startswith(prefix)]
    if len(found) > 1:
        raise UnknownPosition(f"{ref!r} matches {len(found)} positions; give more digits")
    if not found:
        raise UnknownPosition(f"no position id starts with {ref!r} in this log")
    return found[0]


def read_recorded(events: Iterable[Any]) -> RecordedLog:
    """Sort a log (decoded events, recorded order) into positions, their context and prices."""
    events = list(events)
    histories: dict[UUID, list[Any]] = {}
    accounts: dict[UUID, tuple[str, str]] = {}
    account_events: list[tuple[tuple[str, str], Any]] = []
    for event in events:
        name = type(event).__name__
        if name in CREATIONS:
            histories[event.originator_id] = [event]
        elif event.originator_id in histories:
            histories[event.originator_id].append(event)
        elif name == "AccountRegistered":
            accounts[event.originator_id] = (event.venue, event.account)
        elif event.originator_id in accounts:
            account_events.append((accounts[event.originator_id], event))
    ticks: dict[tuple[str, str], list[PriceTick]] = {}
    for tick in price_ticks(events):
        ticks.setdefault((tick.venue, tick.symbol), []).append(tick)
    for series in ticks.values():
        series.sort()
    end = max((e.timestamp for e in events), default=None)
    positions = {pid: PositionLog(pid, history, _context(history, account_events, end))
                 for pid, history in histories.items()}
    return RecordedLog(positions, ticks, end)


def _context(history: list[Any], account_events: list[tuple[tuple[str, str], Any]],
             end: datetime | None) -> list[Any]:
    """The account events of the position's account during its life that concern its symbol, or
    no symbol in particular (a rejected frame, a reconnect); a snapshot concerns every symbol."""
    created, last = history[0], history[-1]
    start = created.timestamp
    if type(created).__name__ == "PositionAdopted":  # the phantom it was adopted from came first
        start = max((e.timestamp for (venue, account), e in account_events
                     if type(e).__name__ == "PhantomDetected" and e.timestamp <= start
                     and (venue, account, e.report.symbol) == (created.venue, created.account,
                                                               created.symbol)), default=start)
    stop = last.timestamp if type(last).__name__ in ("PositionClosed", "PositionRolledBack") else end
    mine = []
    for (venue, account), event in account_events:
        if (venue, account) != (created.venue, created.account) or not start <= event.timestamp <= stop:
            continue
        symbol = about(event)
        position_id = getattr(event, "position_id", None)
        if symbol in (None, created.symbol) or position_id == created.originator_id:
            mine.append(event)
    return mine


def about(event: Any) -> str | None:
    """The symbol an account event is about, or None when it is about the account as a whole."""
    for name in ("report", "fill"):
        inner = getattr(event, name, None)
        if inner is not None:
            return inner.symbol
    return None
