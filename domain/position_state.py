"""How a `Position`'s state follows from its events: ``when`` and one handler per event class.

``when`` applies the lifecycle table's status change and assigns state from the event, nothing
else (no clock, no I/O, no config), so a replay rebuilds exactly the state the live object had.
`Position` (`warden.domain.position`) holds the commands that decide which events to record.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.dispatch import Handlers
from warden.domain.exit_order import ExitOrderCommands
from warden.domain.lifecycle import INITIAL, Intent, next_status
from warden.domain.values import ZERO, CloseReason, Origin, StopPurpose

_handles = Handlers("Position")
_handles.include(ExitOrderCommands.handlers)  # the aged exit order's events (domain/exit_order.py)


class PositionState:
    """The state half of `Position`: every attribute is assigned here, from an event."""

    # ----- state from events ----------------------------------------------------------------
    def when(self, event: object) -> None:
        """The one place the lifecycle table moves the status: on every event, live or replayed."""
        if isinstance(event, ev.PositionEvent):
            status = next_status(self.status, type(event))
            _handles.dispatch(self, event)
            self.status = status
        else:
            _handles.dispatch(self, event)

    @_handles(ev.SignalAccepted)
    def _(self, e: ev.SignalAccepted) -> None:
        self._init(e, Origin.SIGNAL)
        self.signal_id = e.signal_id
        self.stop_loss_percent = e.stop_loss_percent
        self.trailing_activation_percent = e.trailing_activation_percent
        self.trailing_callback_percent = e.trailing_callback_percent

    @_handles(ev.PositionAdopted)
    def _(self, e: ev.PositionAdopted) -> None:
        self._init(e, Origin.ADOPTED)
        self.filled_qty = e.quantity
        self.entry_price = e.entry_price
        self.best_price = e.entry_price

    def _init(self, e: Any, origin: Origin) -> None:
        self.venue, self.account, self.symbol = e.venue, e.account, e.symbol
        self.side, self.quantity, self.instrument = e.side, e.quantity, e.instrument
        self.origin, self.status, self.opened_at = origin, INITIAL[type(e)], e.timestamp
        self.signal_id = None
        self.stop_loss_percent = self.trailing_activation_percent = None
        self.trailing_callback_percent = None
        self.filled_qty, self.entry_price, self.entry_fees = ZERO, None, ZERO
        self.entry_client_order_id = self.entry_order_id = None
        self.pending_intent: Intent | None = None
        self.close_client_order_id: str | None = None
        self.requested_close_reason: CloseReason | None = None
        self.stop_price = self.stop_reference = self.stop_order_id = self.requested_stop = None
        self.requested_stop_client_id: str | None = None
        self.stop_order_ids: list[str] = []  # every stop order the venue confirmed, oldest first
        self.scale_in_signal_id = self.scale_in_client_order_id = self.scale_in_quantity = None
        self.stop_rejections = self.refused_fills = 0
        self.last_mark = self.best_price = None
        self.aged_phase = 0
        self.exit_client_order_id = self.exit_order_id = self.exit_limit = None
        self.exit_intent = self.exit_requested = self.exit_refused = None
        self.close_reason = self.exit_price = self.realized_pnl = self.closed_at = None

    @_handles(ev.EntryOrderRequested)
    def _(self, e: ev.EntryOrderRequested) -> None:
        self.entry_client_order_id, self.pending_intent = e.client_order_id, Intent.ENTRY

    @_handles(ev.EntryOrderPlaced)
    def _(self, e: ev.EntryOrderPlaced) -> None:
        self.entry_client_order_id, self.entry_order_id = e.client_order_id, e.order_id
        self.pending_intent = None

    @_handles(ev.FillUnresolved)
    def _(self, e: ev.FillUnresolved) -> None:
        pass  # the fact is the record: the engine keeps asking

    @_handles(ev.EntryFilled)
    def _(self, e: ev.EntryFilled) -> None:
        total = self.filled_qty + e.quantity
        previous = (self.entry_price or ZERO) * self.filled_qty
        self.entry_price = (previous + e.price * e.quantity) / total
        self.filled_qty = total
        self.entry_fees += e.fee
        self.best_price = self.entry_price if self.best_price is None else self.best_price

    @_handles(ev.FillRefused)
    def _(self, e: ev.FillRefused) -> None:
        self.refused_fills += 1

    @_handles(ev.EntryRejected)
    def _(self, e: ev.EntryRejected) -> None:
        self.pending_intent = None
        self.close_reason, self.closed_at = CloseReason.ENTRY_REJECTED, e.timestamp

    @_handles(ev.StopLossRequested)
    def _(self, e: ev.StopLossRequested) -> None:
        self.requested_stop, self.pending_intent = e.price, Intent.STOP
        self.requested_stop_client_id = e.client_order_id
        if e.purpose is StopPurpose.TRAIL:
            self._raise_best(e.reference_price)  # the best price this trailing move follows

    @_handles(ev.StopLossPlaced)
    def _(self, e: ev.StopLossPlaced) -> None:
        self.stop_price, self.stop_reference, self.stop_order_id = (
            e.price, e.reference_price, e.order_id)
        self._stop_order(e.order_id)
        self.requested_stop = self.pending_intent = None

    def _stop_order(self, order_id: str | None) -> None:
        if order_id is not None and order_id not in self.stop_order_ids:
            self.stop_order_ids = [*self.stop_order_ids, order_id]

    @_handles(ev.StopLossRejected)
    def _(self, e: ev.StopLossRejected) -> None:
        self.requested_stop = self.pending_intent = None
        self.stop_rejections += 1

    @_handles(ev.MarkPriceObserved)
    def _(self, e: ev.MarkPriceObserved) -> None:
        # logs before the price tape: every price a position saw is on the position
        self.last_mark = e.price
        self._raise_best(e.price)

    def _raise_best(self, price: Decimal) -> None:
        if self.best_price is not None and self.side.sign * (price - self.best_price) > 0:
            self.best_price = price

    @_handles(ev.TrailingActivated)
    def _(self, e: ev.TrailingActivated) -> None:
        # the price that activated it is a price the position saw (the tape has the others)
        self.last_mark = e.price
        self._raise_best(e.price)

    @_handles(ev.StopLossMoved)
    def _(self, e: ev.StopLossMoved) -> None:
        self.stop_price, self.stop_reference = e.new_price, e.reference_price
        self.stop_order_id = e.order_id or self.stop_order_id
        self._stop_order(e.order_id)
        self.requested_stop = self.pending_intent = None

    @_handles(ev.PositionAged)
    def _(self, e: ev.PositionAged) -> None:
        pass  # only the status changes

    @_handles(ev.AgedPhaseEntered)
    def _(self, e: ev.AgedPhaseEntered) -> None:
        self.aged_phase = e.phase

    @_handles(ev.CloseRequested)
    def _(self, e: ev.CloseRequested) -> None:
        # the position stays open until the exchange confirms it is flat
        self.pending_intent, self.close_client_order_id = Intent.CLOSE, e.client_order_id
        self.requested_close_reason = e.reason

    @_handles(ev.ScaleInRequested)
    def _(self, e: ev.ScaleInRequested) -> None:
        self.pending_intent, self.scale_in_signal_id = Intent.SCALE_IN, e.signal_id
        self.scale_in_client_order_id, self.scale_in_quantity = e.client_order_id, e.quantity

    @_handles(ev.ScaleInFilled)
    def _(self, e: ev.ScaleInFilled) -> None:
        total = self.filled_qty + e.quantity
        self.entry_price = (self.entry_price * self.filled_qty + e.price * e.quantity) / total
        self.quantity, self.filled_qty = self.quantity + e.quantity, total
        self.entry_fees += e.fee
        self._scale_in_settled()

    @_handles(ev.AdoptedPositionGrew)
    def _(self, e: ev.AdoptedPositionGrew) -> None:
        self.quantity = self.filled_qty = e.size
        if e.entry_price is not None:
            self.entry_price = e.entry_price

    @_handles(ev.ScaleInRejected)
    def _(self, e: ev.ScaleInRejected) -> None:
        self._scale_in_settled()

    def _scale_in_settled(self) -> None:
        self.pending_intent = None
        self.scale_in_signal_id = self.scale_in_client_order_id = self.scale_in_quantity = None

    @_handles(ev.PositionClosed)
    def _(self, e: ev.PositionClosed) -> None:
        self._closed(e, e.reason)

    @_handles(ev.PositionRolledBack)
    def _(self, e: ev.PositionRolledBack) -> None:
        self._closed(e, CloseReason.ROLLED_BACK)

    def _closed(self, e: Any, reason: CloseReason) -> None:
        self.close_reason, self.exit_price = reason, e.exit_price
        self.realized_pnl, self.closed_at = e.realized_pnl, e.timestamp
        self.pending_intent = None
