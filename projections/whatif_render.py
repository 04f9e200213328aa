"""How `warden whatif` shows its comparisons: a text table per position and in total, and the
what-if stop trail and exit added to the report's chart (``--html``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from warden.projections.chart import Point, PositionChart, Series, levels
from warden.projections.timeline import show
from warden.projections.whatif import Comparison, Outcome

_WIDTH = 38


def render_text(comparisons: Sequence[Comparison], changes: Sequence[str]) -> str:
    changed = ", ".join(changes) if changes else "no parameter changed"
    lines = [f"what-if: {changed}",
             "(a signal's own stop and trailing parameters win over the policy, as in the engine)"]
    for c in comparisons:
        lines += ["", *_position(c)]
    lines += ["", *_total(comparisons)]
    return "\n".join(lines)


def _position(c: Comparison) -> list[str]:
    created = c.position.created
    how = f"signal {created.signal_id}" if getattr(created, "signal_id", None) else "adopted"
    rows = [f"{c.position.describe()}  ({how})", _row("", "recorded", "what-if")]
    rows.append(_row("stop moves", _moves(c.recorded), _moves(c.whatif)))
    rows.append(_row("exit", _exit(c.recorded), _exit(c.whatif)))
    rows.append(_row("PnL", _money(c.recorded.pnl), _money(c.whatif.pnl)))
    rows += [f"  {who}: {note}" for who, note in (("recorded", c.recorded.note), ("what-if", c.whatif.note))
             if note]
    rows += [f"  its signal sets {name} {show(value)}" for name, value in c.overrides.items()]
    if c.difference is None:
        rows.append("  every decision the same")
    else:
        recorded, whatif = c.difference
        rows += ["  first decision that differs:",
                 f"    recorded  {recorded.describe() if recorded else '(none)'}",
                 f"    what-if   {whatif.describe() if whatif else '(none)'}"]
    return rows


def _row(label: str, recorded: str, whatif: str) -> str:
    return f"  {label:<12}{recorded:<{_WIDTH}}{whatif}".rstrip()


def _moves(outcome: Outcome) -> str:
    trail = levels(outcome.events, None)[1]
    return f"{outcome.stop_moves}, last stop {show(trail[-1].price)}" if trail else "no stop"


def _exit(outcome: Outcome) -> str:
    if outcome.reason is None:
        return "still open"
    price = show(outcome.exit_price) if outcome.exit_price is not None else "?"
    return f"{price} {outcome.reason.name}"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else show(value)


def _total(comparisons: Sequence[Comparison]) -> list[str]:
    def total(outcomes: list[Outcome]) -> Decimal:
        return sum((o.pnl for o in outcomes if o.pnl is not None), Decimal(0))
    recorded = total([c.recorded for c in comparisons])
    whatif = total([c.whatif for c in comparisons])
    other_decisions = sum(c.difference is not None for c in comparisons)
    other_exits = sum((c.recorded.reason, c.recorded.exit_price) != (c.whatif.reason, c.whatif.exit_price)
                      for c in comparisons)
    return [f"total: {len(comparisons)} position(s), {other_decisions} with other decisions, "
            f"{other_exits} with another exit",
            f"  PnL recorded {show(recorded)}, what-if {show(whatif)} ({_signed(whatif - recorded)})"]


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "") + show(value)


def with_whatif(chart: PositionChart, c: Comparison, changes: Sequence[str]) -> PositionChart:
    """The report's chart of the position with the what-if stop trail and exit drawn over it."""
    end = c.whatif.exit_time or c.recorded.exit_time
    trail = levels(c.whatif.events, end)[1]
    exits = [] if c.whatif.exit_time is None or c.whatif.exit_price is None else [
        Point(c.whatif.exit_time, c.whatif.exit_price,
              f"what-if exit {show(c.whatif.exit_price)} {c.whatif.reason.name}<br>{c.whatif.note}")]
    lines = [f"what-if ({', '.join(changes) or 'no parameter changed'}): stop moves {_moves(c.whatif)}; "
             f"exit {_exit(c.whatif)}; PnL {_money(c.whatif.pnl)}"]
    if c.difference is not None:
        lines.append("first decision that differs: recorded "
                     + " / what-if ".join(d.describe() if d else "(none)" for d in c.difference))
    return chart.with_series(Series("stop (what-if)", "step", trail),
                             Series("exit (what-if)", "markers", exits), summary=lines)
