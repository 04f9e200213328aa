"""What `warden report` draws for one position, as plain data (no plotting library here).

A `PositionChart` holds named series of (time, price, hover text) points: the prices the log
recorded for the position's symbol, its entry, its stop as a step line with every move, the
liquidation price the venue reported, and markers for the events that explain what happened
(fills, refused fills and rejections, phantoms, snapshots and rejected frames, trailing and aged
steps, the close). Its ``rows`` are the position's timeline without the marks, the table under
the chart. State comes from folding the events, exactly as `warden replay` does.
"""

from __future__ import annotations

import bisect
import html
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from warden.projections.recorded import PositionLog, PriceTick, RecordedLog, about
from warden.projections.timeline import TimelineRow, build_timeline, details, show


@dataclass(frozen=True)
class Point:
    time: datetime
    price: Decimal
    text: str  # hover text: plain text, escaped; lines separated by <br>


@dataclass(frozen=True)
class Series:
    name: str
    style: str  # "line", "step" (a level held until the next point) or "markers"
    points: list[Point]


@dataclass(frozen=True)
class PositionChart:
    position_id: UUID
    title: str
    summary: list[str]
    series: list[Series]
    rows: list[TimelineRow] = field(default_factory=list)

    def with_series(self, *extra: Series, summary: Sequence[str] = ()) -> PositionChart:
        return replace(self, series=[*self.series, *(s for s in extra if s.points)],
                       summary=[*self.summary, *summary])


# Marker series by event class name. An account event about no symbol in particular (a rejected
# frame, a reconnect, a resync) that is not named here lands in FEEDS, so new feed events show up.
FILLS, REFUSED, PHANTOMS, FEEDS, STEPS, CLOSE = (
    "fills", "refused fills and rejections", "phantoms and mismatches",
    "feeds: snapshots, reconnects, rejected frames", "trailing and aged", "close")
MARKERS = {
    "EntryFilled": FILLS, "PositionAdopted": FILLS, "FillReported": FILLS,
    "FillRefused": REFUSED, "FillUnresolved": REFUSED, "StopLossRejected": REFUSED,
    "EntryRejected": REFUSED,
    "PhantomDetected": PHANTOMS, "PositionMismatch": PHANTOMS,
    "PositionsSnapshotted": FEEDS, "StreamFrameRejected": FEEDS,
    "TrailingActivated": STEPS, "PositionAged": STEPS, "AgedPhaseEntered": STEPS,
    "CloseRequested": CLOSE, "PositionClosed": CLOSE, "PositionRolledBack": CLOSE,
}
_PRICE_FIELDS = ("price", "new_price", "exit_price", "entry_price", "limit_price")


def chart_for(position: PositionLog, log: RecordedLog) -> PositionChart:
    created, end = position.created, position.closed_at or log.end
    ticks = log.prices(created.venue, created.symbol, created.timestamp, end)
    timeline = build_timeline(position.history)
    entry, stop = levels(position.history, end)
    series = [Series("price", "line", [_tick_point(t) for t in thin(ticks)]),
              Series("entry", "step", entry), Series("stop", "step", stop),
              Series("liquidation", "step", _liquidation(position, created.symbol))]
    series += _markers(position, ticks, entry)
    rows = [row for row in timeline.rows if row.event != "MarkPriceObserved"]
    return PositionChart(position.id, f"{position.describe()}  ({_how(created)})",
                         _summary(timeline.aggregate), [s for s in series if s.points], rows)


def _how(created: Any) -> str:
    signal = getattr(created, "signal_id", None)
    return f"signal {signal}" if signal else "adopted from the exchange"


def _summary(p: Any) -> list[str]:
    def money(value: Decimal | None) -> str:
        return "-" if value is None else show(value)
    reason = p.close_reason.name if p.close_reason else "-"
    return [f"status {p.status.name}, entry {money(p.entry_price)}, stop {money(p.stop_price)}, "
            f"exit {money(p.exit_price)} ({reason}), realized PnL {money(p.realized_pnl)}"]


MAX_PRICE_POINTS = 20_000  # beyond this a chart gets slow to draw and the page heavy


def thin(ticks: Sequence[PriceTick], limit: int = MAX_PRICE_POINTS) -> Sequence[PriceTick]:
    """At most about ``limit`` ticks: each run of ticks reduced to its lowest and highest, in time
    order, so no extreme (the one that hit a stop) disappears from the line."""
    if len(ticks) <= limit:
        return ticks
    size = -(-len(ticks) // (limit // 2))
    kept: list[PriceTick] = []
    for start in range(0, len(ticks), size):
        run = ticks[start:start + size]
        low, high = min(run, key=lambda t: t.price), max(run, key=lambda t: t.price)
        kept += sorted({low, high}, key=lambda t: t.time)
    return kept


def _tick_point(tick: PriceTick) -> Point:
    return Point(tick.time, tick.price, f"{show(tick.price)} ({tick.source})")


def levels(history: list[Any], end: datetime | None) -> tuple[list[Point], list[Point]]:
    """The entry and the stop after every event that changed them, each held until ``end``."""
    entry: list[Point] = []
    stop: list[Point] = []
    aggregate = None
    for event in history:
        aggregate = event.mutate(aggregate)
        for points, value in ((entry, aggregate.entry_price), (stop, aggregate.stop_price)):
            if value is not None and (not points or points[-1].price != value):
                points.append(Point(event.timestamp, value, _hover(event)))
    for points in (entry, stop):
        if points and end is not None and end > points[-1].time:
            points.append(Point(end, points[-1].price, f"{show(points[-1].price)} until {_time(end)}"))
    return entry, stop


def _liquidation(position: PositionLog, symbol: str) -> list[Point]:
    points: list[Point] = []
    for event in position.context:
        reports = getattr(event, "reports", None) or [getattr(event, "report", None)]
        for report in reports:
            level = getattr(report, "liquidation_price", None)
            if report is not None and report.symbol == symbol and level and \
                    (not points or points[-1].price != level):
                points.append(Point(event.timestamp, level, _hover(event)))
    return points


def _markers(position: PositionLog, ticks: Sequence[PriceTick], entry: list[Point]) -> list[Series]:
    found: dict[str, list[Point]] = {}
    tagged = [(e, False) for e in position.history] + [(e, True) for e in position.context]
    for event, of_account in sorted(tagged, key=lambda pair: pair[0].timestamp):
        kind = _kind(event, of_account)
        if kind is None:
            continue
        price = _price_of(event) or _price_at(event.timestamp, ticks, entry)
        if price is not None:
            found.setdefault(kind, []).append(Point(event.timestamp, price, _hover(event)))
    order = (FILLS, REFUSED, PHANTOMS, FEEDS, STEPS, CLOSE)
    return [Series(kind, "markers", found[kind]) for kind in order if kind in found]


def _kind(event: Any, of_account: bool) -> str | None:
    name = type(event).__name__
    report = getattr(event, "report", None)
    if name == "PositionReported" and report is not None and report.is_flat:
        return CLOSE  # the venue says the position is gone
    if name in MARKERS:
        return MARKERS[name]
    return FEEDS if of_account and about(event) is None else None


def _price_of(event: Any) -> Decimal | None:
    for name in _PRICE_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, Decimal) and value > 0:
            return value
    for name in ("fill", "report"):
        inner = getattr(event, name, None)
        for field_name in ("price", "mark_price", "entry_price"):
            value = getattr(inner, field_name, None)
            if isinstance(value, Decimal) and value > 0:
                return value
    return None


def _price_at(time: datetime, ticks: Sequence[PriceTick], entry: list[Point]) -> Decimal | None:
    """Where to draw a marker without a price of its own: the last price seen, else the entry."""
    if ticks:
        index = bisect.bisect_right(ticks, time, key=lambda t: t.time)
        return ticks[max(index - 1, 0)].price
    return entry[0].price if entry else None


def _hover(event: Any) -> str:
    text = f"{type(event).__name__} v{event.originator_version} {_time(event.timestamp)}"
    fields = details(event)
    for name in ("report", "fill"):
        inner = getattr(event, name, None)
        if inner is not None:
            fields += " " + " ".join(f"{k}={show(v)}" for k, v in vars(inner).items()
                                     if v is not None and k not in ("raw", "venue"))
    reports = getattr(event, "reports", None)
    if isinstance(reports, list):  # a snapshot: what it held, symbol by symbol
        fields += " holds: " + (", ".join(f"{r.symbol} {r.side.name if r.side else ''} {show(r.size)}"
                                          for r in reports) or "nothing")
    return "<br>".join(html.escape(line) for line in [text, *_wrap(fields)])


def _wrap(text: str, width: int = 90) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _time(time: datetime) -> str:
    return time.isoformat(timespec="milliseconds")
