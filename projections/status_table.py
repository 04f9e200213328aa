"""Readable tables of the positions read model for ``warden status`` and ``warden positions``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from warden.domain.lifecycle import Status
from warden.projections.positions_view import PositionRow
from warden.projections.timeline import show

HEADER = ("id", "venue", "symbol", "side", "status", "entry", "stop", "mark", "PnL", "age", "waiting")


def pnl(row: PositionRow) -> Decimal | None:
    """Realized once closed, else unrealized at the last mark (before exit fees)."""
    if row.status is Status.CLOSED:
        return row.realized_pnl
    if row.entry_price is None or row.last_mark is None:
        return None
    return row.side.sign * (row.last_mark - row.entry_price) * row.filled_qty


def age(row: PositionRow, now: datetime) -> str:
    seconds = int(((row.closed_at or now) - row.opened_at).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def render_positions(rows: list[PositionRow], now: datetime) -> str:
    if not rows:
        return "no positions"
    cells = [HEADER] + [
        (str(r.id)[:8], r.venue, r.symbol, r.side.name, r.status.name, _num(r.entry_price),
         _num(r.stop_price), _num(r.last_mark), _num(pnl(r)), age(r, now), r.pending_intent or "-")
        for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def render_counts(counts: dict[Status, int]) -> str:
    return "  ".join(f"{status.name.lower()}={counts.get(status, 0)}" for status in Status)


def _num(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return show(value.quantize(Decimal("0.01")) if abs(value) >= 1 and value.as_tuple().exponent < -8
                else value)
