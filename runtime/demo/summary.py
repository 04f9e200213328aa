"""The demo's closing report: a timeline per position, the final table and how to replay each."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

from warden.adapters.store import WardenStore
from warden.domain.position import Position
from warden.projections.timeline import build_timeline, show


def _money(value: Decimal | None) -> str:
    return "-" if value is None else show(value.quantize(Decimal("0.0001")))


def _price(value: Decimal | None) -> str:
    return "-" if value is None else show(value)


def render_summary(store: WardenStore, store_url: str, positions: list[Position],
                   labels: dict[UUID, str], echo: Callable[[str], None]) -> None:
    echo("\n== timelines ==")
    for p in positions:
        echo(f"\n{p.venue} {p.symbol} {p.side.name} ({labels.get(p.id, '')})  {p.id}")
        echo(build_timeline(store.history(p.id)).render())
    echo("\n== positions ==")
    echo(f"{'scenario':<17} {'symbol':<14} {'venue':<12} {'side':<6} {'status':<9} {'entry':>12} "
         f"{'stop':>12} {'close reason':<18} {'PnL':>9}  id")
    for p in positions:
        reason = p.close_reason.name if p.close_reason else "-"
        echo(f"{labels.get(p.id, ''):<17} {p.symbol:<14} {p.venue:<12} {p.side.name:<6} "
             f"{p.status.name:<9} {_price(p.entry_price):>12} {_price(p.stop_price):>12} "
             f"{reason:<18} {_money(p.realized_pnl):>9}  {str(p.id)[:8]}")
    echo("\nreplay any position (its timeline and its state at a --version or --at time):")
    for p in positions:
        echo(f"  warden replay {str(p.id)[:8]} --store {store_url}    # {labels.get(p.id, '')}: "
             f"{p.venue} {p.symbol}")
