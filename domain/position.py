"""The `Position` aggregate: one position's lifecycle, rebuilt from its events.

Public methods are commands: each declares the one event it records (``@records``), is refused
up front when the lifecycle table does not allow that event in the current status, checks its
other rules (typed errors) and then triggers the event. How each event sets the state (``when``)
lives in `warden.domain.position_state`, so a replay is identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from warden.domain import events as ev
from warden.domain.errors import (
    AgedPhaseOutOfOrder,
    EntryAlreadyRequested,
    ImpossibleFill,
    InvalidMark,
    InvalidSignal,
    InvalidStop,
    NotAgedYet,
    PositionBusy,
    StopWouldLoosen,
)
from warden.domain.evidence import evidence
from warden.domain.exit_order import NO_EXIT_ORDER, ExitOrderCommands
from warden.domain.ids import adopted_position_id, client_order_id_prefix, position_id
from warden.domain.instrument import Instrument
from warden.domain.lifecycle import PROTECTED_STATUSES, Intent, Status, records
from warden.domain.position_state import PositionState
from warden.domain.reports import ClosingOrder, PriceAnswer
from warden.domain.values import (
    ZERO,
    CloseBasis,
    CloseReason,
    Origin,
    PriceSource,
    Side,
    StopPurpose,
)

Raw = dict[str, Any]


class Position(ExitOrderCommands, PositionState, Aggregate):
    # v2: ``pending_intent`` is an `Intent` (v1 snapshots hold its plain value)
    # v3: ``stop_order_ids`` and the scale-in fields
    # v4: the aged exit's resting order (`ExitOrderCommands`; v3 snapshots had none)
    class_version = 4

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        intent = state.get("pending_intent")
        state["pending_intent"] = None if intent is None else Intent(intent)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        current = state.get("stop_order_id")
        state["stop_order_ids"] = [current] if current else []
        state["requested_stop_client_id"] = None
        state["scale_in_signal_id"] = state["scale_in_client_order_id"] = None
        state["scale_in_quantity"] = None

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        state.update(NO_EXIT_ORDER)

    def __init__(self) -> None:
        """State is assigned by ``when`` from the creating event."""

    # ----- creation -------------------------------------------------------------------------
    @classmethod
    def open(cls, *, venue: str, account: str, signal_id: str, symbol: str, side: Side,
             quantity: Decimal, instrument: Instrument, at: datetime,
             stop_loss_percent: Decimal | None = None,
             trailing_activation_percent: Decimal | None = None,
             trailing_callback_percent: Decimal | None = None,
             raw: Raw | None = None) -> Position:
        if symbol != instrument.symbol:
            raise InvalidSignal(f"signal symbol {symbol} does not match instrument {instrument.symbol}")
        if not quantity.is_finite() or quantity <= 0:
            raise InvalidSignal(f"{symbol}: quantity must be > 0, got {quantity}")
        if instrument.round_qty(quantity) != quantity or quantity < instrument.min_qty:
            raise InvalidSignal(f"{symbol}: quantity {quantity} is not a tradable multiple of "
                                f"{instrument.qty_step} >= {instrument.min_qty}")
        for name, pct in (("stop_loss_percent", stop_loss_percent),
                          ("trailing_callback_percent", trailing_callback_percent)):
            if pct is not None and not (ZERO < pct < 100):
                raise InvalidSignal(f"{symbol}: {name} must be in (0, 100), got {pct}")
        return cls._create(
            ev.SignalAccepted, id=position_id(venue, account, signal_id), timestamp=at,
            venue=venue, account=account, signal_id=signal_id, symbol=symbol, side=side,
            quantity=quantity, instrument=instrument, stop_loss_percent=stop_loss_percent,
            trailing_activation_percent=trailing_activation_percent,
            trailing_callback_percent=trailing_callback_percent, raw=evidence(raw))

    @classmethod
    def adopt(cls, *, venue: str, account: str, symbol: str, side: Side, quantity: Decimal,
              entry_price: Decimal, price_source: PriceSource, instrument: Instrument,
              at: datetime, raw: Raw | None = None) -> Position:
        _check_fill(symbol, entry_price, quantity)
        return cls._create(
            ev.PositionAdopted, id=adopted_position_id(venue, account, symbol, at), timestamp=at,
            venue=venue, account=account, symbol=symbol, side=side, quantity=quantity,
            entry_price=entry_price, price_source=price_source, instrument=instrument,
            raw=evidence(raw))

    # ----- commands -------------------------------------------------------------------------
    @records(ev.EntryOrderRequested)
    def request_entry_order(self, *, client_order_id: str, at: datetime) -> None:
        if self.entry_client_order_id is not None:
            raise EntryAlreadyRequested(f"{self.symbol}: entry order {self.entry_client_order_id} "
                                        "already requested")
        self.trigger_event(ev.EntryOrderRequested, timestamp=at, client_order_id=client_order_id,
                           quantity=self.quantity)

    @records(ev.EntryOrderPlaced)
    def record_entry_order(self, *, client_order_id: str, order_id: str | None, at: datetime,
                           raw: Raw | None = None) -> None:
        self.trigger_event(ev.EntryOrderPlaced, timestamp=at, client_order_id=client_order_id,
                           order_id=order_id, quantity=self.quantity, raw=evidence(raw))

    @records(ev.EntryFilled)
    def fill(self, *, price: Decimal, quantity: Decimal, source: PriceSource, at: datetime,
             order_id: str | None = None, fee: Decimal = ZERO, raw: Raw | None = None,
             asked: Sequence[PriceAnswer] = ()) -> None:
        """``asked``: what the sources asked before ``source`` said, kept as evidence."""
        _check_fill(self.symbol, price, quantity)
        if self.filled_qty + quantity > self.quantity:
            raise ImpossibleFill(f"{self.symbol}: fill of {quantity} overfills "
                                 f"{self.filled_qty}/{self.quantity}")
        self.trigger_event(ev.EntryFilled, timestamp=at, price=price, quantity=quantity,
                           price_source=source, order_id=order_id, fee=fee, raw=evidence(raw),
                           asked=_answers(asked))

    @records(ev.FillRefused)
    def refuse_fill(self, *, price: Decimal, quantity: Decimal, source: PriceSource, reason: str,
                    at: datetime, raw: Raw | None = None) -> None:
        """Record a fill report that `fill` refused, so the log shows what the venue said."""
        self.trigger_event(ev.FillRefused, timestamp=at, price=price, quantity=quantity,
                           price_source=source, reason=reason, raw=evidence(raw))

    @records(ev.FillUnresolved)
    def record_unresolved_fill(self, *, reason: str, at: datetime, raw: Raw | None = None,
                               asked: Sequence[PriceAnswer] = ()) -> None:
        self.trigger_event(ev.FillUnresolved, timestamp=at, reason=reason, raw=evidence(raw),
                           asked=_answers(asked))

    @records(ev.EntryRejected)
    def reject_entry(self, *, reason: str, code: str | None, at: datetime,
                     raw: Raw | None = None) -> None:
        self.trigger_event(ev.EntryRejected, timestamp=at, reason=reason, code=code, raw=evidence(raw))

    @records(ev.StopLossRequested)
    def request_stop(self, *, price: Decimal, reference_price: Decimal, purpose: StopPurpose,
                     at: datetime, client_order_id: str | None = None) -> None:
        self._check_stop(price, reference_price)
        if self.pending_intent is Intent.SCALE_IN:
            raise PositionBusy(f"{self.symbol}: a scale-in is pending; its fill resizes the stop")
        self.trigger_event(ev.StopLossRequested, timestamp=at, price=price,
                           reference_price=reference_price, purpose=purpose,
                           client_order_id=client_order_id)

    @records(ev.StopLossPlaced)
    def confirm_stop(self, *, price: Decimal, reference_price: Decimal, order_id: str | None,
                     at: datetime, raw: Raw | None = None) -> None:
        """The exchange holds a stop at ``price``."""
        self._check_stop(price, reference_price)
        self.trigger_event(ev.StopLossPlaced, timestamp=at, price=price,
                           reference_price=reference_price, order_id=order_id, raw=evidence(raw))

    @records(ev.StopLossRejected)
    def reject_stop(self, *, price: Decimal, code: str | None, reason: str, at: datetime,
                    raw: Raw | None = None) -> None:
        """The exchange refused the stop at ``price`` (or never confirmed it)."""
        self.trigger_event(ev.StopLossRejected, timestamp=at, price=price, code=code,
                           reason=reason, raw=evidence(raw))

    @records(ev.MarkPriceObserved)
    def observe_mark(self, *, price: Decimal, source: PriceSource, at: datetime,
                     raw: Raw | None = None) -> None:
        if not price.is_finite() or price <= 0:
            raise InvalidMark(f"{self.symbol}: mark price {price} must be > 0")
        self.trigger_event(ev.MarkPriceObserved, timestamp=at, price=price, source=source,
                           raw=evidence(raw))

    @records(ev.TrailingActivated)
    def activate_trailing(self, *, price: Decimal, activation_percent: Decimal,
                          at: datetime) -> None:
        self.trigger_event(ev.TrailingActivated, timestamp=at, price=price,
                           activation_percent=activation_percent)

    @records(ev.StopLossMoved)
    def confirm_stop_move(self, *, new_price: Decimal, reference_price: Decimal,
                          order_id: str | None, at: datetime, raw: Raw | None = None) -> None:
        """The exchange moved the stop to ``new_price``."""
        self._check_stop(new_price, reference_price)
        self.trigger_event(ev.StopLossMoved, timestamp=at, old_price=self.stop_price,
                           new_price=new_price, reference_price=reference_price,
                           order_id=order_id, raw=evidence(raw))

    @records(ev.PositionAged)
    def age(self, *, age_seconds: int, max_age_seconds: int, at: datetime) -> None:
        if age_seconds < max_age_seconds:
            raise NotAgedYet(f"{self.symbol}: age {age_seconds}s is below the max {max_age_seconds}s")
        self.trigger_event(ev.PositionAged, timestamp=at, age_seconds=age_seconds,
                           max_age_seconds=max_age_seconds)

    @records(ev.AgedPhaseEntered)
    def enter_aged_phase(self, *, phase: int, limit_price: Decimal | None, at: datetime) -> None:
        if phase <= self.aged_phase:
            raise AgedPhaseOutOfOrder(f"{self.symbol}: aged phase {phase} is not after {self.aged_phase}")
        self.trigger_event(ev.AgedPhaseEntered, timestamp=at, phase=phase, limit_price=limit_price)

    @records(ev.CloseRequested)
    def request_close(self, *, reason: CloseReason, client_order_id: str | None,
                      limit_price: Decimal | None, at: datetime) -> None:
        self.trigger_event(ev.CloseRequested, timestamp=at, reason=reason,
                           client_order_id=client_order_id, limit_price=limit_price)

    @records(ev.PositionClosed)
    def close(self, *, exit_price: Decimal | None, fees: Decimal, reason: CloseReason,
              at: datetime, basis: CloseBasis = CloseBasis.WARDEN_ORDER,
              closed_by: ClosingOrder | None = None, detail: str | None = None,
              raw: Raw | None = None) -> None:
        """The venue shows the position flat; ``basis`` says how ``reason`` is known."""
        if closed_by is not None:
            closed_by = replace(closed_by, raw=evidence(closed_by.raw))
        self.trigger_event(ev.PositionClosed, timestamp=at, exit_price=exit_price,
                           realized_pnl=self._pnl(exit_price, fees), fees=fees, reason=reason,
                           basis=basis, closed_by=closed_by, detail=detail, raw=evidence(raw))

    @records(ev.PositionRolledBack)
    def roll_back(self, *, reason: str, exit_price: Decimal | None, fees: Decimal, at: datetime,
                  raw: Raw | None = None) -> None:
        self.trigger_event(ev.PositionRolledBack, timestamp=at, reason=reason,
                           exit_price=exit_price, realized_pnl=self._pnl(exit_price, fees),
                           fees=fees, raw=evidence(raw))

    @records(ev.ScaleInRequested)
    def request_scale_in(self, *, signal_id: str, quantity: Decimal, client_order_id: str,
                         at: datetime, raw: Raw | None = None) -> None:
        """Signal ``signal_id`` adds ``quantity`` to this position (the account's ``scale_in``)."""
        if self.pending_intent is not None:
            raise PositionBusy(f"{self.symbol}: waiting on {self.pending_intent.value}; "
                               "a scale-in must wait until it is settled")
        if not quantity.is_finite() or quantity <= 0 or self.instrument.round_qty(quantity) != quantity:
            raise InvalidSignal(f"{self.symbol}: scale-in quantity {quantity} is not a tradable "
                                f"multiple of {self.instrument.qty_step}")
        self.trigger_event(ev.ScaleInRequested, timestamp=at, signal_id=signal_id, quantity=quantity,
                           client_order_id=client_order_id, raw=evidence(raw))

    @records(ev.ScaleInFilled)
    def fill_scale_in(self, *, price: Decimal, quantity: Decimal, source: PriceSource,
                      at: datetime, order_id: str | None = None, fee: Decimal = ZERO,
                      raw: Raw | None = None) -> None:
        if self.pending_intent is not Intent.SCALE_IN:
            raise ImpossibleFill(f"{self.symbol}: no scale-in is pending")
        _check_fill(self.symbol, price, quantity)
        if quantity > self.scale_in_quantity:
            raise ImpossibleFill(f"{self.symbol}: scale-in fill of {quantity} exceeds the "
                                 f"{self.scale_in_quantity} requested")
        self.trigger_event(ev.ScaleInFilled, timestamp=at, signal_id=self.scale_in_signal_id,
                           price=price, quantity=quantity, price_source=source, order_id=order_id,
                           fee=fee, raw=evidence(raw))

    @records(ev.AdoptedPositionGrew)
    def follow_adopted_size(self, *, size: Decimal, entry_price: Decimal | None, at: datetime,
                            raw: Raw | None = None) -> None:
        """An adopted position is larger on the venue than warden holds it: take the venue's size
        (and average entry), so the stop is sized for all of it. Only growth, only for a position
        warden adopted, and only with no intent in flight (those settle the size themselves) but a
        close: warden closes all the venue holds, and records what it closed."""
        if self.origin is not Origin.ADOPTED:
            raise ImpossibleFill(f"{self.symbol}: only an adopted position follows the venue's size")
        if self.pending_intent not in (None, Intent.CLOSE):
            raise PositionBusy(f"{self.symbol}: {self.pending_intent.value} in flight")
        if not size.is_finite() or size <= self.filled_qty:
            raise ImpossibleFill(f"{self.symbol}: {size} is not more than the {self.filled_qty} held")
        if entry_price is not None and (not entry_price.is_finite() or entry_price <= 0):
            entry_price = None  # the venue's average is not usable: the adopted entry stands
        self.trigger_event(ev.AdoptedPositionGrew, timestamp=at, size=size, entry_price=entry_price,
                           raw=evidence(raw))

    @records(ev.ScaleInRejected)
    def reject_scale_in(self, *, reason: str, code: str | None, at: datetime,
                        raw: Raw | None = None) -> None:
        if self.pending_intent is not Intent.SCALE_IN:
            raise PositionBusy(f"{self.symbol}: no scale-in is pending")
        self.trigger_event(ev.ScaleInRejected, timestamp=at, signal_id=self.scale_in_signal_id,
                           reason=reason, code=code, raw=evidence(raw))

    # ----- queries --------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status is not Status.CLOSED

    @property
    def is_protected(self) -> bool:
        return self.status in PROTECTED_STATUSES

    @property
    def client_id_prefix(self) -> str:
        """Every client order id warden gives an order of this position starts with this."""
        return client_order_id_prefix(self.id)

    def owns_order(self, order_id: str | None, client_order_id: str | None) -> bool:
        """Did warden send this venue order for this position (a stop it recorded, or any order
        whose client id it derived from the position)?"""
        return (order_id is not None and order_id in self.stop_order_ids) or \
            (client_order_id or "").startswith(self.client_id_prefix)

    def state(self) -> dict[str, Any]:
        """Every field of the aggregate, for comparisons and display."""
        return {k: v for k, v in vars(self).items() if k != "_pending_events"}

    # ----- guards ---------------------------------------------------------------------------
    def _check_stop(self, price: Decimal, reference_price: Decimal) -> None:
        if self.entry_price is None:
            raise InvalidStop(f"{self.symbol}: no fill yet, nothing to protect")
        self.instrument.validate_stop(self.side, price, reference_price)
        current = self.stop_price
        if current is not None and self.side.sign * (price - current) < 0:
            raise StopWouldLoosen(f"{self.symbol}: stop {price} would loosen {current} "
                                  f"for a {self.side.name}")

    def _pnl(self, exit_price: Decimal | None, fees: Decimal) -> Decimal | None:
        if exit_price is None or self.entry_price is None:
            return None
        if not exit_price.is_finite() or exit_price <= 0:
            raise ImpossibleFill(f"{self.symbol}: exit price {exit_price} must be > 0")
        gross = self.side.sign * (exit_price - self.entry_price) * self.filled_qty
        return gross - self.entry_fees - fees


def _answers(asked: Sequence[PriceAnswer]) -> list[PriceAnswer]:
    """The venue's answers as stored evidence: each payload made safe to store."""
    return [replace(answer, raw=evidence(answer.raw)) for answer in asked]


def _check_fill(symbol: str, price: Decimal, quantity: Decimal) -> None:
    if not price.is_finite() or price <= 0:
        raise ImpossibleFill(f"{symbol}: fill price {price} must be > 0")
    if not quantity.is_finite() or quantity <= 0:
        raise ImpossibleFill(f"{symbol}: fill quantity {quantity} must be > 0")
