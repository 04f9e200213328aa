"""The aged exit's resting order, as part of a `Position`: a reduce-only limit order that closes the
position at an aged phase's price or better (maker fee, no slippage, and it works while warden is
down).

Each action on it (place, amend, cancel: `ExitAction`) is an intent recorded before the venue is
asked (`ExitOrderRequested`) and an outcome after (`ExitOrderPlaced`, `ExitOrderAmended`,
`ExitOrderCancelled`, `ExitOrderRejected`); that the venue filled it is an observation
(`ExitOrderFilled`). Its state sits beside the position's ``pending_intent``,
because the stop keeps moving while the exit order rests: ``exit_intent`` is the action waiting for
the venue's answer, ``exit_order_id``/``exit_limit`` the order resting and its price,
``exit_client_order_id`` the client id it was (last) sent with, ``exit_refused`` the last price
the venue refused for it (`AgedExitPolicy.step` does not ask for that price again).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.dispatch import Handlers
from warden.domain.errors import InvalidExitOrder
from warden.domain.evidence import evidence
from warden.domain.lifecycle import records
from warden.domain.values import ExitAction

Raw = dict[str, Any]
NO_EXIT_ORDER: dict[str, Any] = {"exit_client_order_id": None, "exit_order_id": None,
                                 "exit_limit": None, "exit_intent": None, "exit_requested": None,
                                 "exit_refused": None}


class ExitOrderCommands:
    """Mixed into `Position`: the exit order's commands and the handlers of its events."""

    handlers = Handlers("Position")
    NO_EXIT_ORDER = NO_EXIT_ORDER  # every field of a position that never had an exit order

    @property
    def exit_resting(self) -> bool:
        """Does the venue hold an exit order of this position (as far as the log knows)?"""
        return self.exit_order_id is not None

    @records(ev.ExitOrderRequested)
    def request_exit_order(self, *, action: ExitAction, quantity: Decimal, phase: int, at: datetime,
                           price: Decimal | None = None, client_order_id: str | None = None) -> None:
        if self.exit_intent is not None:
            raise InvalidExitOrder(f"{self.symbol}: the exit order's {self.exit_intent.value} still "
                                   "waits for the venue's answer")
        if action is ExitAction.PLACE:
            if self.exit_resting or client_order_id is None:
                raise InvalidExitOrder(f"{self.symbol}: an exit order is placed once, with a client id "
                                       f"(one rests at {self.exit_limit})")
        elif not self.exit_resting:
            raise InvalidExitOrder(f"{self.symbol}: no exit order rests to {action.value}")
        elif action is ExitAction.AMEND and price == self.exit_limit:
            raise InvalidExitOrder(f"{self.symbol}: the exit order already rests at {price}")
        if action is not ExitAction.CANCEL and (price is None or not price.is_finite() or price <= 0):
            raise InvalidExitOrder(f"{self.symbol}: an exit order's price must be > 0, got {price}")
        self.trigger_event(ev.ExitOrderRequested, timestamp=at, action=action,
                           client_order_id=client_order_id or self.exit_client_order_id,
                           order_id=self.exit_order_id,
                           price=None if action is ExitAction.CANCEL else price,
                           quantity=quantity, phase=phase)

    @records(ev.ExitOrderPlaced)
    def confirm_exit_order(self, *, order_id: str, price: Decimal, at: datetime,
                           raw: Raw | None = None) -> None:
        self._answering(ExitAction.PLACE)
        self.trigger_event(ev.ExitOrderPlaced, timestamp=at, client_order_id=self.exit_client_order_id,
                           order_id=order_id, price=price, raw=evidence(raw))

    @records(ev.ExitOrderAmended)
    def confirm_exit_amend(self, *, price: Decimal, at: datetime, raw: Raw | None = None) -> None:
        self._answering(ExitAction.AMEND)
        self.trigger_event(ev.ExitOrderAmended, timestamp=at, order_id=self.exit_order_id, price=price,
                           raw=evidence(raw))

    @records(ev.ExitOrderFilled)
    def record_exit_fill(self, *, filled_qty: Decimal, average_price: Decimal | None, at: datetime,
                         raw: Raw | None = None) -> None:
        """The venue reports the resting exit order filled (it rests no more)."""
        if not self.exit_resting or self.exit_intent is not None:
            raise InvalidExitOrder(f"{self.symbol}: no exit order rests to have filled")
        self.trigger_event(ev.ExitOrderFilled, timestamp=at, order_id=self.exit_order_id,
                           filled_qty=filled_qty, average_price=average_price, raw=evidence(raw))

    @records(ev.ExitOrderCancelled)
    def confirm_exit_cancel(self, *, filled_qty: Decimal, reason: str, at: datetime,
                            raw: Raw | None = None) -> None:
        self._answering(ExitAction.CANCEL)
        self.trigger_event(ev.ExitOrderCancelled, timestamp=at, order_id=self.exit_order_id,
                           filled_qty=filled_qty, reason=reason, raw=evidence(raw))

    @records(ev.ExitOrderRejected)
    def reject_exit_order(self, *, code: str | None, reason: str, at: datetime,
                          raw: Raw | None = None) -> None:
        """The venue refused the pending action, or never confirmed it."""
        if self.exit_intent is None:
            raise InvalidExitOrder(f"{self.symbol}: no exit order action waits for an answer")
        self.trigger_event(ev.ExitOrderRejected, timestamp=at, action=self.exit_intent,
                           price=self.exit_requested, code=code, reason=reason, raw=evidence(raw))

    def _answering(self, action: ExitAction) -> None:
        if self.exit_intent is not action:
            raise InvalidExitOrder(f"{self.symbol}: no exit order {action.value} waits for an answer "
                                   f"({self.exit_intent.value if self.exit_intent else 'none'} does)")

    # ----- state from events ----------------------------------------------------------------
    @handlers(ev.ExitOrderRequested)
    def _(self, e: ev.ExitOrderRequested) -> None:
        self.exit_intent, self.exit_requested = e.action, e.price
        self.exit_client_order_id = e.client_order_id

    @handlers(ev.ExitOrderPlaced)
    def _(self, e: ev.ExitOrderPlaced) -> None:
        self.exit_order_id, self.exit_limit = e.order_id, e.price
        self.exit_intent = self.exit_requested = self.exit_refused = None

    @handlers(ev.ExitOrderAmended)
    def _(self, e: ev.ExitOrderAmended) -> None:
        self.exit_limit = e.price
        self.exit_intent = self.exit_requested = self.exit_refused = None

    @handlers(ev.ExitOrderFilled)
    @handlers(ev.ExitOrderCancelled)
    def _(self, e: ev.ExitOrderFilled | ev.ExitOrderCancelled) -> None:
        self.exit_order_id = self.exit_limit = None
        self.exit_intent = self.exit_requested = None

    @handlers(ev.ExitOrderRejected)
    def _(self, e: ev.ExitOrderRejected) -> None:
        if e.action is ExitAction.PLACE:  # nothing rests; a cancel or amend refused leaves it as it was
            self.exit_order_id = self.exit_limit = None
        if e.code is not None:  # the venue said no (an unconfirmed request may be asked again)
            self.exit_refused = e.price
        self.exit_intent = self.exit_requested = None
