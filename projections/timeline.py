"""The timeline read model: one aggregate's events, each with the status it led to.

Built by folding the stored events one by one (no snapshot), so every intermediate state is seen
exactly as it was. Used by ``warden replay`` and the demo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from warden.domain.instrument import Instrument
from warden.domain.reports import ClosingOrder

# Fields every event has, or that are too bulky for one line of a timeline.
_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "raw"}
STATE_FIELDS = ("venue", "account", "symbol", "side", "origin", "status", "quantity", "filled_qty",
                "entry_price", "stop_price", "stop_reference", "last_mark", "best_price",
                "close_reason", "exit_price", "realized_pnl", "opened_at", "closed_at")


@dataclass(frozen=True)
class TimelineRow:
    version: int
    time: datetime
    event: str
    status: str
    details: str


@dataclass(frozen=True)
class Timeline:
    rows: list[TimelineRow]
    aggregate: Any  # the state after the last row

    def render(self) -> str:
        lines = [f"{'v':>4}  {'time':<29}  {'event':<20}  {'status':<9}  details"]
        for row in self.rows:
            time = row.time.isoformat(timespec="milliseconds")
            lines.append(f"{row.version:>4}  {time:<29}  {row.event:<20}  {row.status:<9}  {row.details}")
        return "\n".join(lines)

    def render_state(self) -> str:
        state = vars(self.aggregate)
        shown = [(name, state[name]) for name in STATE_FIELDS if state.get(name) is not None]
        return "\n".join(f"  {name:<15} {show(value)}" for name, value in shown)


def build_timeline(events: Iterable[Any], *, until: datetime | None = None,
                   version: int | None = None) -> Timeline:
    """Fold ``events`` (oldest first), stopping after ``version`` or at ``until`` inclusive."""
    aggregate = None
    rows: list[TimelineRow] = []
    for event in events:
        if version is not None and event.originator_version > version:
            break
        if until is not None and event.timestamp > until:
            break
        aggregate = event.mutate(aggregate)
        status = getattr(aggregate, "status", None)
        rows.append(TimelineRow(event.originator_version, event.timestamp, type(event).__name__,
                                status.name if isinstance(status, Enum) else "-", details(event)))
    return Timeline(rows, aggregate)


def details(event: Any) -> str:
    """The fields that matter, as ``name=value`` pairs."""
    pairs = []
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name in _HIDDEN or value is None or value == {}:
            continue
        pairs.append(f"{field.name}={show(value)}")
    return " ".join(pairs)


def show(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Instrument):
        return f"{value.symbol}(tick={value.tick_size:f})"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, ClosingOrder):  # what closed a position, as the venue described it
        trigger = f" (trigger {show(value.trigger_price)})" if value.trigger_price else ""
        return (f"{value.origin.name} {value.order_type or 'order'} {value.order_id}{trigger} "
                f"filled {show(value.qty)} at {show(value.price)}")
    if dataclasses.is_dataclass(value):
        return f"{type(value).__name__}({getattr(value, 'symbol', '')})"
    return str(value)


def millis(time: datetime) -> str:
    """A time to the millisecond without its offset (tables say they are UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
