from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from tests.builders import BTC, SATS
from warden.domain.errors import InvalidStop
from warden.domain.lifecycle import Status
from warden.domain.policies import (
    AgedExitPolicy,
    AgedPhase,
    AgedStep,
    InitialStopPolicy,
    OwnOrders,
    TrailingStopPolicy,
    attribute_close,
    exit_reason,
)
from warden.domain.reports import ClosingOrder
from warden.domain.values import CloseBasis, CloseReason, OrderOrigin, Side


def test_the_initial_stop_is_a_percent_from_the_real_fill_rounded_protectively():
    policy = InitialStopPolicy(percent=D("2"))
    assert policy.stop_for(Side.LONG, D("60000.3"), BTC) == D("58800.3")  # 58800.294 rounds up
    assert policy.stop_for(Side.SHORT, D("60000.3"), BTC) == D("61200.3")  # 61200.306 rounds down
    assert policy.stop_for(Side.LONG, D("0.0001234"), SATS) == D("0.0001210")


def test_no_initial_stop_from_a_zero_fill_price():
    with pytest.raises(InvalidStop):
        InitialStopPolicy().stop_for(Side.LONG, D("0"), BTC)


def test_trailing_activates_at_the_profit_threshold():
    policy = TrailingStopPolicy(activation_percent=D("1.5"))
    assert not policy.should_activate(Side.LONG, D("60000"), D("60899.9"))
    assert policy.should_activate(Side.LONG, D("60000"), D("60900"))
    assert policy.should_activate(Side.SHORT, D("60000"), D("59100"))


def test_the_trailing_stop_follows_the_best_price_only_in_the_positions_favour():
    policy = TrailingStopPolicy(callback_percent=D("0.5"), min_step_ticks=1)
    assert policy.next_stop(Side.LONG, D("61000"), D("58800"), BTC) == D("60695")
    assert policy.next_stop(Side.LONG, D("61000"), D("60695"), BTC) is None  # nothing to gain
    assert policy.next_stop(Side.LONG, D("60000"), D("60695"), BTC) is None  # would loosen
    assert policy.next_stop(Side.SHORT, D("59000"), D("61200"), BTC) == D("59295")


def test_moves_smaller_than_the_minimum_step_are_skipped():
    policy = TrailingStopPolicy(callback_percent=D("0.5"), min_step_ticks=10)
    assert policy.next_stop(Side.LONG, D("61000.5"), D("60695"), BTC) is None  # 0.5 < 10 ticks
    assert policy.next_stop(Side.LONG, D("61002"), D("60695"), BTC) == D("60697")


def test_the_aged_exit_accepts_progressively_worse_prices_then_goes_to_market():
    policy = AgedExitPolicy(max_age_seconds=3600, phases=(AgedPhase(0, D("-0.1")),
                                                           AgedPhase(600, D("1"))),
                            hard_limit_seconds=1200)
    assert policy.decision(Side.LONG, D("60000"), 3599, BTC) is None
    first = policy.decision(Side.LONG, D("60000"), 3600, BTC)
    second = policy.decision(Side.LONG, D("60000"), 4200, BTC)
    hard = policy.decision(Side.LONG, D("60000"), 4800, BTC)
    assert (first.phase, first.limit_price) == (1, D("60060"))
    assert (second.phase, second.limit_price) == (2, D("59400"))
    assert (hard.phase, hard.limit_price) == (3, None)
    short = policy.decision(Side.SHORT, D("60000"), 4200, BTC)
    assert short.limit_price == D("60600")


AGED = AgedExitPolicy(max_age_seconds=3600, phases=(AgedPhase(0, D("-0.1")), AgedPhase(600, D("1"))),
                      hard_limit_seconds=1200)


def step(age: int, status: Status = Status.AGED, phase: int = 0, **kwargs) -> AgedStep:
    return AGED.step(side=Side.LONG, entry=D("60000"), age_seconds=age, instrument=BTC,
                     status=status, phase=phase, **kwargs)


def test_the_aged_step_ages_enters_each_phase_and_rests_the_exit_order_at_its_price():
    assert step(3599, Status.PROTECTED) == AgedStep()
    assert step(3600, Status.PENDING) == AgedStep()  # only a protected position ages
    first = step(3600, Status.TRAILING)
    assert first.ages and first.enters.phase == 1 and first.rest_at == D("60060") and not first.market
    assert step(3700, phase=1) == AgedStep(rest_at=D("60060"))  # none rests yet (a refusal, a crash)
    assert step(3700, phase=1, resting=D("60060")) == AgedStep()  # it rests there: nothing to do
    second = step(4200, phase=1, resting=D("60060"))
    assert (second.enters.phase, second.rest_at, second.ages) == (2, D("59400"), False)  # amend


def test_the_aged_step_does_not_ask_again_for_a_price_the_venue_refused():
    assert step(3700, phase=1, refused=D("60060")) == AgedStep()
    assert step(4200, phase=1, refused=D("60060")).rest_at == D("59400")  # the next phase asks


def test_the_hard_limit_goes_to_market_whatever_rests():
    hard = step(4800, phase=2, resting=D("59400"))
    assert hard.market and hard.rest_at is None and hard.enters.phase == 3
    assert step(4900, phase=3).market  # and keeps saying so until the position is closed


@pytest.mark.parametrize(("side", "exit_price", "trailing", "liquidation", "reason"), [
    (Side.LONG, "58790", False, None, CloseReason.STOP_HIT),
    (Side.LONG, "58790", True, None, CloseReason.TRAILING_STOP_HIT),
    (Side.LONG, "61000", False, None, CloseReason.CLOSED_EXTERNALLY),
    (Side.LONG, "54000", False, "54100", CloseReason.LIQUIDATED),
    (Side.SHORT, "66100", False, "66000", CloseReason.LIQUIDATED),
    (Side.LONG, None, False, None, CloseReason.CLOSED_EXTERNALLY),
])
def test_an_exit_the_venue_made_is_explained_by_its_price(side, exit_price, trailing, liquidation, reason):
    stop = D("58800") if side is Side.LONG else D("61200")
    assert exit_reason(side, D(exit_price) if exit_price else None, stop, trailing,
                       D(liquidation) if liquidation else None) is reason


@pytest.mark.parametrize("kwargs", [{"min_step_ticks": 0}, {"min_step_ticks": -3},
                                    {"callback_percent": D("0")}, {"min_interval_seconds": D("-1")}])
def test_a_trailing_policy_that_could_loosen_the_stop_is_refused(kwargs):
    with pytest.raises(InvalidStop):
        TrailingStopPolicy(**kwargs)


def closing(origin: OrderOrigin, *, order_id: str = "9", client: str | None = None,
            trigger: str | None = None, price: str = "59000") -> ClosingOrder:
    return ClosingOrder(order_id, client, origin, None, D(trigger) if trigger else None, D("0.01"),
                        D(price), D("0.3"))


OWN = OwnOrders("wabc", frozenset({"stop-1"}), D("58800"), trailing=False)


@pytest.mark.parametrize(("orders", "own", "expected"), [
    # a hand close right by the stop: the order says manual, whatever the price
    ([closing(OrderOrigin.ORDER, client="web-123")], OWN, (CloseReason.MANUAL, CloseBasis.VENUE_ORDER)),
    # the stop warden placed, filled far below its trigger (a gap): still the stop
    ([closing(OrderOrigin.STOP, order_id="stop-1", trigger="58800", price="55000")], OWN,
     (CloseReason.STOP_HIT, CloseBasis.VENUE_ORDER)),
    ([closing(OrderOrigin.POSITION_STOP, trigger="58800")], replace(OWN, trailing=True),
     (CloseReason.TRAILING_STOP_HIT, CloseBasis.VENUE_ORDER)),
    # a stop warden did not place (another client's), at another price
    ([closing(OrderOrigin.STOP, order_id="x", trigger="57000")], OWN,
     (CloseReason.CLOSED_EXTERNALLY, CloseBasis.VENUE_ORDER)),
    # a liquidation anywhere wins, even before a later order
    ([closing(OrderOrigin.LIQUIDATION), closing(OrderOrigin.ORDER)], OWN,
     (CloseReason.LIQUIDATED, CloseBasis.VENUE_ORDER)),
    # warden's own close order: the reason warden asked for
    ([closing(OrderOrigin.ORDER, client="wabcclose7")], replace(OWN, requested=CloseReason.AGED_EXIT),
     (CloseReason.AGED_EXIT, CloseBasis.WARDEN_ORDER)),
    # the stop beat warden's close order: the stop is why
    ([closing(OrderOrigin.STOP, order_id="stop-1")], replace(OWN, requested=CloseReason.AGED_EXIT),
     (CloseReason.STOP_HIT, CloseBasis.VENUE_ORDER)),
    ([closing(OrderOrigin.VENUE)], OWN, (CloseReason.CLOSED_EXTERNALLY, CloseBasis.VENUE_ORDER)),
    # nothing the venue would describe: the price decides, and says it guessed
    ([closing(OrderOrigin.UNKNOWN, price="58790")], OWN, (CloseReason.STOP_HIT, CloseBasis.PRICE_GUESS)),
    ([], OWN, (CloseReason.CLOSED_EXTERNALLY, CloseBasis.PRICE_GUESS)),
])
def test_the_close_reason_comes_from_the_closing_order(orders, own, expected):
    exit_price = orders[-1].price if orders else None
    why = attribute_close(orders, own, side=Side.LONG, exit_price=exit_price, liquidation_price=None)
    assert (why.reason, why.basis) == expected
    assert why.order is (orders[-1] if orders and expected[0] is not CloseReason.LIQUIDATED else
                         orders[0] if orders else None)
