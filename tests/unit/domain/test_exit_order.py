"""The aged exit's resting order on a `Position`: each action an intent and an outcome, refused
when it does not fit the order's state, and only while the position is AGED."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.builders import at, protected
from warden.domain.errors import InvalidExitOrder, InvalidTransition
from warden.domain.lifecycle import Status
from warden.domain.values import ExitAction


def aged():
    position = protected()
    position.age(age_seconds=3600, max_age_seconds=3600, at=at(3600))
    position.enter_aged_phase(phase=1, limit_price=D("60060"), at=at(3600))
    return position


def placed():
    position = aged()
    position.request_exit_order(action=ExitAction.PLACE, price=D("60060"), quantity=D("0.010"),
                                phase=1, client_order_id="exit-1", at=at(3601))
    position.confirm_exit_order(order_id="o-1", price=D("60060"), at=at(3602), raw={"orderId": "o-1"})
    return position


def test_placing_amending_and_cancelling_each_record_an_intent_then_an_outcome():
    position = placed()
    assert (position.exit_order_id, position.exit_limit, position.exit_intent) == ("o-1", D("60060"), None)
    position.request_exit_order(action=ExitAction.AMEND, price=D("59400"), quantity=D("0.010"), phase=2,
                                at=at(4200))
    assert position.exit_intent is ExitAction.AMEND and position.exit_limit == D("60060")
    position.confirm_exit_amend(price=D("59400"), at=at(4201))
    position.request_exit_order(action=ExitAction.CANCEL, quantity=D("0.010"), phase=3, at=at(4800))
    position.confirm_exit_cancel(filled_qty=D("0.004"), reason="the hard limit", at=at(4801))
    names = [type(e).__name__ for e in position.collect_events()][-6:]
    assert names == ["ExitOrderRequested", "ExitOrderPlaced", "ExitOrderRequested", "ExitOrderAmended",
                     "ExitOrderRequested", "ExitOrderCancelled"]
    assert not position.exit_resting and position.exit_client_order_id == "exit-1"
    assert position.status is Status.AGED  # the order is not the close: the venue decides that


def test_an_exit_order_action_that_does_not_fit_is_refused_and_records_nothing():
    position = placed()
    version = position.version
    with pytest.raises(InvalidExitOrder, match="placed once"):
        position.request_exit_order(action=ExitAction.PLACE, price=D("1"), quantity=D("0.010"), phase=1,
                                    client_order_id="exit-2", at=at(3700))
    with pytest.raises(InvalidExitOrder, match="already rests at 60060"):
        position.request_exit_order(action=ExitAction.AMEND, price=D("60060"), quantity=D("0.010"),
                                    phase=1, at=at(3700))
    with pytest.raises(InvalidExitOrder, match="must be > 0"):
        position.request_exit_order(action=ExitAction.AMEND, price=D("0"), quantity=D("0.010"), phase=2,
                                    at=at(3700))
    with pytest.raises(InvalidExitOrder, match="no exit order amend waits"):
        position.confirm_exit_amend(price=D("59400"), at=at(3700))
    assert position.version == version
    with pytest.raises(InvalidExitOrder, match="no exit order rests to cancel"):
        aged().request_exit_order(action=ExitAction.CANCEL, quantity=D("0.010"), phase=1, at=at(3700))


def test_a_refused_placement_leaves_no_order_and_remembers_the_price_a_lost_answer_does_not():
    position = aged()
    position.request_exit_order(action=ExitAction.PLACE, price=D("60060"), quantity=D("0.010"), phase=1,
                                client_order_id="exit-1", at=at(3601))
    position.reject_exit_order(code="-4024", reason="price below the band", at=at(3602))
    assert (position.exit_resting, position.exit_refused) == (False, D("60060"))
    position.request_exit_order(action=ExitAction.PLACE, price=D("59400"), quantity=D("0.010"), phase=2,
                                client_order_id="exit-2", at=at(4200))
    position.reject_exit_order(code=None, reason="not confirmed: timed out", at=at(4201))
    assert position.exit_refused == D("60060")  # 59400 is asked again: the venue never said no


def test_a_filled_exit_order_rests_no_more_and_only_an_aged_position_has_one():
    position = placed()
    position.record_exit_fill(filled_qty=D("0.010"), average_price=D("60075"), at=at(3700))
    assert not position.exit_resting
    with pytest.raises(InvalidExitOrder):
        position.record_exit_fill(filled_qty=D("0.010"), average_price=D("60075"), at=at(3701))
    with pytest.raises(InvalidTransition, match="PROTECTED -> ExitOrderRequested"):
        protected().request_exit_order(action=ExitAction.PLACE, price=D("60060"), quantity=D("0.010"),
                                       phase=1, client_order_id="exit-1", at=at(10))
