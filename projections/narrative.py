"""What an event says, in one readable sentence: the line `warden replay` prints under it and the
demo's running commentary (runtime/demo/narrator.py).

A venue's answers are quoted as recorded: a refused fill names the source and what it said, a fill
names the source of its price and what the sources asked before it said, a rejected stop the
venue's code and words. Events not worth a sentence (a mark price) give None.
"""

from __future__ import annotations

from typing import Any

from warden.domain import events as ev
from warden.domain.reports import PriceAnswer
from warden.domain.values import CloseBasis, ExitAction, PriceSource, StopPurpose
from warden.projections.timeline import show

_REQUESTS = {StopPurpose.INITIAL: "stop requested at {price} (from {reference})",
             StopPurpose.CORRECTION: "stop corrected to {price} (mark {reference}), sent again",
             StopPurpose.TRAIL: "stop move to {price} requested (best {reference})",
             StopPurpose.RESTORE: "stop {price} put back (none found on the venue)"}


_EXIT_REQUESTS = {ExitAction.PLACE: "reduce-only limit exit order for {price} or better (phase {phase}) "
                                    "about to be sent",
                  ExitAction.AMEND: "exit order to be moved to {price} (phase {phase})",
                  ExitAction.CANCEL: "exit order to be cancelled"}


def describe(e: Any) -> str | None:
    """The sentence for one event, or None for an event not worth one."""
    return _opening(e) or _stop_and_aged(e) or _exit_order(e) or _account(e)


def _opening(e: Any) -> str | None:
    match e:
        case ev.SignalAccepted():
            return f"signal {e.signal_id} accepted: {e.side.name} {show(e.quantity)}"
        case ev.PositionAdopted():
            return (f"ADOPTED from the exchange's report: {show(e.quantity)} "
                    f"at {show(e.entry_price)} ({e.price_source.name})")
        case ev.EntryOrderRequested():
            return f"entry order {e.client_order_id} about to be sent"
        case ev.EntryOrderPlaced():
            return f"entry order placed, order id {e.order_id}"
        case ev.EntryFilled():
            return f"filled at {show(e.price)} (source {e.price_source.name}){asked(e.asked)}"
        case ev.FillRefused():
            return f"{e.reason}: REFUSED, not a fill (price {show(e.price)}, quantity {show(e.quantity)})"
        case ev.FillUnresolved():
            return f"fill price not known yet: {e.reason}"
    return None


def _stop_and_aged(e: Any) -> str | None:
    match e:
        case ev.StopLossRequested():
            return _REQUESTS.get(e.purpose, "stop requested at {price}").format(
                price=show(e.price), reference=show(e.reference_price))
        case ev.StopLossPlaced():
            return f"stop placed at {show(e.price)}: PROTECTED"
        case ev.StopLossRejected():
            return f"stop {show(e.price)} REJECTED ({e.code}): {e.reason}"
        case ev.TrailingActivated():
            return f"trailing activated at {show(e.price)}"
        case ev.StopLossMoved():
            return (f"stop moved {show(e.old_price)} -> {show(e.new_price)} "
                    f"(best {show(e.reference_price)})")
        case ev.PositionAged():
            return f"AGED: {e.age_seconds} s old, max {e.max_age_seconds} s"
        case ev.AgedPhaseEntered():
            limit = show(e.limit_price) if e.limit_price is not None else "market"
            return f"aged phase {e.phase}: exit at {limit} or better"
        case ev.CloseRequested():
            return f"closing at market ({e.reason.name})"
        case ev.PositionClosed():
            by = f" by {show(e.closed_by)}" if e.closed_by is not None else ""
            guess = " (a guess from the price)" if e.basis is CloseBasis.PRICE_GUESS else ""
            return (f"CLOSED {e.reason.name}{guess} at {show(e.exit_price) if e.exit_price else '?'}"
                    f"{by}, PnL {show(e.realized_pnl) if e.realized_pnl is not None else '?'}")
        case ev.PositionRolledBack():
            return f"ROLLED BACK: {e.reason}"
    return None


def _exit_order(e: Any) -> str | None:
    match e:
        case ev.ExitOrderRequested():
            return _EXIT_REQUESTS[e.action].format(price=show(e.price), phase=e.phase)
        case ev.ExitOrderPlaced():
            return f"exit order resting at {show(e.price)}, order id {e.order_id}"
        case ev.ExitOrderAmended():
            return f"exit order moved to {show(e.price)} (the same order, {e.order_id})"
        case ev.ExitOrderFilled():
            price = show(e.average_price) if e.average_price is not None else "?"
            return f"exit order FILLED: {show(e.filled_qty)} at {price}"
        case ev.ExitOrderCancelled():
            return f"exit order cancelled ({e.reason}); {show(e.filled_qty)} of it had filled"
        case ev.ExitOrderRejected():
            return f"exit order {e.action.value} REJECTED ({e.code}): {e.reason}"
    return None


def _account(e: Any) -> str | None:
    match e:
        case ev.PhantomDetected():
            return (f"PHANTOM {e.report.symbol}: {e.report.side.name if e.report.side else '?'} "
                    f"{show(e.report.size)} open on the exchange, untracked; policy {e.action.value}")
        case ev.PositionMismatch():
            return f"MISMATCH {e.report.symbol}: exchange size {show(e.report.size)}"
        case ev.PositionReported() if e.report.is_flat:
            return f"{e.report.symbol} reported flat ({e.report.source.name})"
        case ev.PositionsSnapshotted():
            held = ", ".join(sorted(r.symbol for r in e.reports)) or "nothing"
            return f"REST snapshot: {held} open"
        case ev.StreamFrameRejected():
            return f"garbage frame on {e.feed}: {e.reason}"
    return None


def asked(answers: list[PriceAnswer]) -> str:
    """``; before it, order query: REFUSED; ...``: what the sources asked first said."""
    if not answers:
        return ""
    said = (f"{source_name(a.source)}: {'REFUSED' if a.refused else a.said}" for a in answers)
    return "; before it, " + "; ".join(said)


def source_name(source: PriceSource) -> str:
    """``order query`` for `PriceSource.ORDER_QUERY`."""
    return source.value.replace("_", " ")
