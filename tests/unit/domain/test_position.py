from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.builders import BTC, at, filled, opened, protected
from warden.domain.errors import (
    AgedPhaseOutOfOrder,
    EntryAlreadyRequested,
    ImpossibleFill,
    InvalidMark,
    InvalidSignal,
    InvalidStop,
    InvalidTransition,
    NotAgedYet,
    StopWouldLoosen,
)
from warden.domain.ids import position_id
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.values import CloseReason, Origin, PriceSource, Side, StopPurpose


def test_the_position_id_is_derived_from_venue_account_and_signal():
    assert opened(signal_id="abc").id == position_id("bybit", "main", "abc")
    assert opened(signal_id="abc").id != opened(signal_id="abd").id


@pytest.mark.parametrize(("price", "qty"), [("0", "0.01"), ("0.0", "0.01"), ("-5", "0.01"),
                                           ("60000", "0"), ("NaN", "0.01")])
def test_a_fill_at_a_non_positive_price_or_quantity_is_impossible(price, qty):
    position = opened()
    with pytest.raises(ImpossibleFill):
        position.fill(price=D(price), quantity=D(qty), source=PriceSource.ORDER_QUERY, at=at(1))
    assert position.status is Status.PENDING and position.version == 1


def test_partial_fills_accumulate_at_their_volume_weighted_price():
    position = opened(qty="0.010")
    position.fill(price=D("60000"), quantity=D("0.004"), source=PriceSource.EXECUTIONS, at=at(1))
    position.fill(price=D("60100"), quantity=D("0.006"), source=PriceSource.EXECUTIONS, at=at(2))
    assert position.status is Status.FILLED
    assert position.filled_qty == D("0.010") and position.entry_price == D("60060")
    with pytest.raises(ImpossibleFill, match="overfills"):
        position.fill(price=D("60100"), quantity=D("0.001"), source=PriceSource.EXECUTIONS, at=at(3))


def test_a_stop_on_the_wrong_side_of_its_reference_is_refused():
    position = filled(Side.SHORT, price="60000")
    with pytest.raises(InvalidStop, match="must be above"):
        position.request_stop(price=D("59000"), reference_price=D("60000"), purpose=StopPurpose.INITIAL,
                              at=at(3))


def test_the_position_is_protected_only_once_the_exchange_confirms_the_stop():
    position = filled()
    position.request_stop(price=D("58800"), reference_price=D("60000"), purpose=StopPurpose.INITIAL, at=at(3))
    assert position.status is Status.FILLED
    position.confirm_stop(price=D("58800"), reference_price=D("60000"), order_id="sl-1", at=at(4))
    assert position.status is Status.PROTECTED and position.stop_price == D("58800")


def test_a_rejected_stop_leaves_the_position_unprotected_and_counts():
    position = filled()
    position.reject_stop(price=D("0"), code="10001", reason="price must be greater than minimum "
                           "price precision", at=at(3))
    assert position.status is Status.FILLED and position.stop_rejections == 1


def test_the_stop_never_moves_against_a_long():
    position = protected(Side.LONG, price="60000", stop="58800")
    position.activate_trailing(price=D("61000"), activation_percent=D("1.5"), at=at(5))
    position.confirm_stop_move(new_price=D("60500"), reference_price=D("61000"), order_id=None, at=at(6))
    with pytest.raises(StopWouldLoosen):
        position.confirm_stop_move(new_price=D("60400"), reference_price=D("61000"), order_id=None, at=at(7))
    assert position.stop_price == D("60500")


def test_the_stop_never_moves_against_a_short():
    position = protected(Side.SHORT, price="60000", stop="61200")
    position.activate_trailing(price=D("59000"), activation_percent=D("1.5"), at=at(5))
    position.confirm_stop_move(new_price=D("59500"), reference_price=D("59000"), order_id=None, at=at(6))
    with pytest.raises(StopWouldLoosen):
        position.confirm_stop_move(new_price=D("59600"), reference_price=D("59000"), order_id=None, at=at(7))


def test_closing_records_realized_pnl_after_entry_and_exit_fees():
    position = protected(Side.SHORT, price="60000", stop="61200")
    position.close(exit_price=D("59000"), fees=D("0.30"), reason=CloseReason.MANUAL, at=at(9))
    # (60000 - 59000) * 0.010 - 0.36 entry fee - 0.30 exit fee
    assert position.realized_pnl == D("9.34")
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.MANUAL


def test_an_unprotectable_position_is_rolled_back_to_closed():
    position = filled()
    position.roll_back(reason="stop rejected 3 times", exit_price=D("59990"), fees=D("0.3"), at=at(9))
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.ROLLED_BACK


def test_a_closed_position_accepts_nothing():
    position = filled()
    position.roll_back(reason="x", exit_price=None, fees=D(0), at=at(9))
    with pytest.raises(InvalidTransition, match=r"^CLOSED -> MarkPriceObserved$"):
        position.observe_mark(price=D("60000"), source=PriceSource.MARK, at=at(10))


def test_an_illegal_command_names_the_status_it_would_lead_to_and_records_nothing():
    position = filled()
    with pytest.raises(InvalidTransition, match=r"^FILLED -> TRAILING \(TrailingActivated\)$"):
        position.activate_trailing(price=D("61000"), activation_percent=D("1.5"), at=at(5))
    assert position.status is Status.FILLED and not [
        e for e in position.collect_events() if type(e).__name__ == "TrailingActivated"]


@pytest.mark.parametrize("price", ["0", "-1", "NaN", "Infinity"])
def test_a_mark_that_cannot_be_real_is_an_invalid_mark_not_a_fill(price):
    position = protected()
    with pytest.raises(InvalidMark) as refused:
        position.observe_mark(price=D(price), source=PriceSource.MARK, at=at(5))
    assert not isinstance(refused.value, ImpossibleFill) and position.last_mark is None


def test_an_entry_order_is_requested_once():
    position = opened()
    position.request_entry_order(client_order_id="cid-1", at=at(1))
    with pytest.raises(EntryAlreadyRequested, match="cid-1 already requested"):
        position.request_entry_order(client_order_id="cid-2", at=at(2))
    assert position.entry_client_order_id == "cid-1" and position.pending_intent is Intent.ENTRY


def test_an_adopted_phantom_starts_filled_with_its_origin():
    position = Position.adopt(venue="bybit", account="main", symbol="BTCUSDT", side=Side.LONG,
                              quantity=D("0.5"), entry_price=D("60000"), price_source=PriceSource.POSITION,
                              instrument=BTC, at=at(0), raw={"avgPrice": "60000"})
    assert position.status is Status.FILLED and position.origin is Origin.ADOPTED
    assert position.signal_id is None


@pytest.mark.parametrize("qty", ["0", "-1", "0.0105"])
def test_a_signal_with_an_untradable_quantity_is_refused(qty):
    with pytest.raises(InvalidSignal):
        opened(qty=qty)


def test_aging_requires_the_age_and_protection():
    position = protected()
    with pytest.raises(NotAgedYet, match="below the max") as refused:
        position.age(age_seconds=10, max_age_seconds=3600, at=at(10))
    assert not isinstance(refused.value, InvalidSignal)
    position.age(age_seconds=3600, max_age_seconds=3600, at=at(3600))
    position.enter_aged_phase(phase=1, limit_price=D("60060"), at=at(3601))
    with pytest.raises(AgedPhaseOutOfOrder, match="not after"):
        position.enter_aged_phase(phase=1, limit_price=D("60000"), at=at(3602))
    assert position.status is Status.AGED


def test_a_refused_fill_is_recorded_as_evidence_and_changes_nothing_else():
    position = opened()
    position.refuse_fill(price=D("0.0"), quantity=D("0.010"), source=PriceSource.ORDER_QUERY,
                         reason="fill price 0.0 must be > 0", at=at(1), raw={"avgPrice": "0"})
    assert position.status is Status.PENDING and position.entry_price is None
    assert position.refused_fills == 1 and position.version == 2
