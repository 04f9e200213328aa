"""A recorded log read for looking back (`warden report`, `warden whatif`).

`read_recorded` takes the decoded events in recorded order and sorts them once into what both
commands need: each position's own history, the account events that concern it (reports and
fills of its symbol, phantoms, snapshots, rejected frames) and the prices per (venue, symbol).

`price_ticks` is the one place that knows where prices are in a log. It reads both formats: the
price tape (`PriceRecorded` on the `PriceTape` of each (venue, symbol), `domain/price_tape.py`)
and the logs written before it, where every price is a `MarkPriceObserved` on each position that
saw it (a tick seen by two positions of one symbol is there twice). Either way the ticks are
deduplicated on (venue, symbol, time, price).
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
CLOSES = ("PositionClosed", "PositionRolledBack")  # the events that end it
PRICES = ("PriceRecorded", "MarkPriceObserved")  # a tape's price; a position's (logs before the tape)


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
        if name in CREATIONS or name == "PriceTapeOpened":
            where[event.originator_id] = (event.venue, event.symbol)
        elif name in PRICES and event.originator_id in where:
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
        return last.timestamp if type(last).__name__ in CLOSES else None

    def describe(self) -> str:
        c = self.created
        return f"{c.venue} {c.symbol} {c.side.name} {str(self.id)[:8]}"


@dataclass
class RecordedLog:
    positions: dict[UUID, PositionLog]
    ticks: dict[tuple[str, str], list[PriceTick]]  # per (venue, symbol), in time order
    end: datetime | None  # the time of the last event

    def __post_init__(self) -> None:
        self._times = {key: [t.time for t in ticks] for key, ticks in self.ticks.items()}

    def prices(self, venue: str, symbol: str, start: datetime | None = None,
               end: datetime | None = None) -> Sequence[PriceTick]:
        """The ticks of one symbol from ``start`` to ``end`` inclusive."""
        ticks, times = self.ticks.get((venue, symbol), []), self._times.get((venue, symbol), [])
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
    by_account: dict[tuple[str, str], list[Any]] = {}
    for event in events:
        name = type(event).__name__
        if name in CREATIONS:
            histories[event.originator_id] = [event]
        elif event.originator_id in histories:
            histories[event.originator_id].append(event)
        elif name == "AccountRegistered":
            accounts[event.originator_id] = (event.venue, event.account)
        elif event.originator_id in accounts:
            by_account.setdefault(accounts[event.originator_id], []).append(event)
    ticks: dict[tuple[str, str], list[PriceTick]] = {}
    for tick in price_ticks(events):
        ticks.setdefault((tick.venue, tick.symbol), []).append(tick)
    for series in ticks.values():
        series.sort()
    end = max((e.timestamp for e in events), default=None)
    context = _AccountContext(by_account)
    positions = {pid: PositionLog(pid, history, context.of(history, end))
                 for pid, history in histories.items()}
    return RecordedLog(positions, ticks, end)


class _AccountContext:
    """The account events of each (venue, account), in time order, to cut a position's out of."""

    def __init__(self, by_account: dict[tuple[str, str], list[Any]]) -> None:
        self.events = {key: sorted(events, key=lambda e: e.timestamp) for key, events in by_account.items()}
        self.times = {key: [e.timestamp for e in events] for key, events in self.events.items()}

    def of(self, history: list[Any], end: datetime | None) -> list[Any]:
        """The account events of the position's account during its life that concern its symbol,
        or no symbol in particular (a rejected frame, a reconnect); a snapshot concerns every symbol.
        An adopted position's life starts at the phantom it was adopted from."""
        created, last = history[0], history[-1]
        key = (created.venue, created.account)
        events, times = self.events.get(key, []), self.times.get(key, [])
        start = created.timestamp
        stop = last.timestamp if type(last).__name__ in CLOSES else end
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, stop) if stop else len(events)
        if type(created).__name__ == "PositionAdopted":
            lo = next((i for i in range(lo - 1, -1, -1) if type(events[i]).__name__ == "PhantomDetected"
                       and events[i].report.symbol == created.symbol), lo)
        return [e for e in events[lo:hi] if about(e) in (None, created.symbol)
                or getattr(e, "position_id", None) == created.originator_id]


def about(event: Any) -> str | None:
    """The symbol an account event is about, or None when it is about the account as a whole."""
    for name in ("report", "fill"):
        inner = getattr(event, name, None)
        if inner is not None:
            return inner.symbol
    return None
