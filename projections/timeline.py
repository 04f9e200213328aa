"""The timeline read model: one aggregate's events, each with the status it led to.

Built by folding the stored events one by one (no snapshot), so every intermediate state is seen
exactly as it was. Used by ``warden replay`` and the demo. A rendering may add under each row the
sentence the event says (`projections.narrative.describe`) and the venue payloads it stores
(``warden replay --raw``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from warden.domain.instrument import Instrument
from warden.domain.reports import ClosingOrder, PriceAnswer

# Fields every event has, or that are too bulky for one line of a timeline.
_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "raw"}
_HIDDEN_EMPTY = {"asked"}  # no earlier answer: the first source asked knew the price
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
    recorded: Any = field(default=None, compare=False, repr=False)  # the event itself


INDENT = " " * 37  # under the event column


@dataclass(frozen=True)
class Timeline:
    rows: list[TimelineRow]
    aggregate: Any  # the state after the last row

    def render(self, says: Callable[[Any], str | None] | None = None, raw: bool = False) -> str:
        """One line per event; under it, what ``says`` makes of it and, with ``raw``, each venue
        payload it stores, as JSON."""
        lines = [f"{'v':>4}  {'time':<29}  {'event':<20}  {'status':<9}  details"]
        for row in self.rows:
            time = row.time.isoformat(timespec="milliseconds")
            lines.append(f"{row.version:>4}  {time:<29}  {row.event:<20}  {row.status:<9}  {row.details}")
            sentence = says(row.recorded) if says is not None else None
            if sentence:
                lines.append(f"{INDENT}-> {sentence}")
            if raw:
                lines.extend(f"{INDENT}   {label}: {json.dumps(payload, default=str, ensure_ascii=False)}"
                             for label, payload in payloads(row.recorded))
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
                                status.name if isinstance(status, Enum) else "-", details(event), event))
    return Timeline(rows, aggregate)


def details(event: Any) -> str:
    """The fields that matter, as ``name=value`` pairs."""
    pairs = []
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name in _HIDDEN or value is None or value == {} or (f.name in _HIDDEN_EMPTY and not value):
            continue
        pairs.append(f"{f.name}={show(value)}")
    return " ".join(pairs)


def payloads(event: Any) -> list[tuple[str, Any]]:
    """Every venue payload ``event`` stores, labelled: its ``raw``, and the ``raw`` of each report,
    fill or venue answer it holds (a snapshot's reports, a fill's earlier answers)."""
    found = []
    for name, value in ((f.name, getattr(event, f.name)) for f in dataclasses.fields(event)):
        if name == "raw" and value:
            found.append(("raw", value))
        elif dataclasses.is_dataclass(value) and getattr(value, "raw", None):
            found.append((f"{name} raw", value.raw))
        elif isinstance(value, list):
            found.extend((f"{name}[{i}] {_label(item)} raw", item.raw) for i, item in enumerate(value)
                         if dataclasses.is_dataclass(item) and getattr(item, "raw", None))
    return found


def _label(item: Any) -> str:
    return getattr(item, "symbol", None) or show(item.source)


def show(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Instrument):
        return f"{value.symbol}(tick={value.tick_size:f})"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list) and value and all(isinstance(v, PriceAnswer) for v in value):
        return "[" + "; ".join(f"{a.source.name}: {'REFUSED ' if a.refused else ''}{a.said}"
                               for a in value) + "]"
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
