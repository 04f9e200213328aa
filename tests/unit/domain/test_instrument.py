from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.builders import BTC, SATS
from warden.domain.errors import InvalidInstrument, InvalidStop, OutOfRange
from warden.domain.values import Side


def test_a_longs_stop_rounds_up_to_the_tick_and_a_shorts_down():
    assert BTC.round_stop(Side.LONG, D("58800.04")) == D("58800.1")
    assert BTC.round_stop(Side.SHORT, D("61200.06")) == D("61200.0")
    assert SATS.round_stop(Side.LONG, D("0.00012345678")) == D("0.0001235")
    assert SATS.round_stop(Side.SHORT, D("0.00012345678")) == D("0.0001234")


def test_an_exact_tick_is_left_alone():
    assert BTC.round_stop(Side.LONG, D("58800.1")) == D("58800.1")


@pytest.mark.parametrize(("side", "stop", "reason"), [
    (Side.LONG, D("0"), "must be > 0"),
    (Side.LONG, D("-1"), "must be > 0"),
    (Side.LONG, D("0.05"), "below the minimum price"),
    (Side.LONG, D("58800.05"), "not a multiple of the tick"),
    (Side.LONG, D("60000"), "must be below 60000"),
    (Side.SHORT, D("59999.9"), "must be above 60000"),
])
def test_an_unsendable_stop_is_refused_before_anything_is_sent(side, stop, reason):
    with pytest.raises(InvalidStop, match=reason):
        BTC.validate_stop(side, stop, D("60000"))


def test_a_zero_raw_stop_is_refused_even_though_rounding_up_would_hide_it():
    with pytest.raises(InvalidStop, match="must be > 0"):
        BTC.protective_stop(Side.LONG, D("0.0"), D("60000"))


def test_quantities_round_down_to_the_step():
    assert BTC.round_qty(D("0.0129")) == D("0.012")
    assert not BTC.tradable_qty(D("0.0001"), D("60000"))
    assert BTC.tradable_qty(D("0.001"), D("60000"))


def test_instrument_metadata_must_be_positive():
    with pytest.raises(InvalidInstrument, match="tick_size"):
        type(BTC)("X", D("0"), D("1"), D("1"), D("1"))


def test_a_longs_stop_below_the_minimum_price_is_raised_to_it():
    low = type(BTC)("LOWUSDT", D("0.1"), D("1"), D("1"), D("556.8"))
    assert low.protective_stop(Side.LONG, D("548.8"), D("560")) == D("556.8")
    with pytest.raises(InvalidStop, match=r"must be below 556\.8"):
        low.protective_stop(Side.LONG, D("548.8"), D("556.8"))


@pytest.mark.parametrize("qty", [D("1e30"), D("1e308"), D("NaN"), D("Infinity")])
def test_a_quantity_decimal_arithmetic_cannot_hold_is_out_of_range_not_a_crash(qty):
    with pytest.raises(OutOfRange, match="quantity"):
        BTC.round_qty(qty)


def test_a_price_beyond_decimal_precision_is_out_of_range_and_never_a_tick_multiple():
    with pytest.raises(OutOfRange, match="price"):
        BTC.round_stop(Side.LONG, D("1e40"))
    assert not BTC.is_tick_multiple(D("1e40"))
