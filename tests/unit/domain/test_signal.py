"""Signal parsing: every exotic number or identifier is a named `InvalidSignal`, never a crash,
and a plain one reads exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from warden.domain.errors import InvalidSignal
from warden.domain.signal import parse_signal, signal_key

AT = datetime(2026, 3, 1, tzinfo=UTC)


def body(**fields):
    return {"signal_id": "s1", "exchange": "bybit", "symbol": "BTCUSDT", "side": "long",
            "quantity": "0.01", **fields}


@pytest.mark.parametrize(("value", "expected"), [
    ("0.010", Decimal("0.010")), (2, Decimal(2)), (0.1, Decimal("0.1")), ("1e-3", Decimal("0.001")),
    (Decimal("0.25"), Decimal("0.25")), ("+5", Decimal(5)),
])
def test_a_plain_quantity_reads_exactly(value, expected):
    assert parse_signal(body(quantity=value), received_at=AT).quantity == expected


@pytest.mark.parametrize(("value", "reason"), [
    ("1e30", "out of range"), (1e308, "out of range"), (10**50, "out of range"),
    ("1e-400", "out of range"), (1e-300, "out of range"),
    ("NaN", "not a decimal number"), ("nan", "not a decimal number"), ("sNaN", "not a decimal number"),
    ("Infinity", "not a decimal number"), (float("inf"), "must be a finite number"),
    (float("nan"), "must be a finite number"), ("-0", "must be > 0"), (0, "must be > 0"),
    (-1, "must be > 0"), ("\u0661\u0662\u0663", "not a decimal number"),
    ("1_000", "not a decimal number"),
    (" 1", "not a decimal number"), ("0x10", "not a decimal number"), ("1e9999999", "not a decimal"),
    ("", "not a decimal number"), (True, "a number or a decimal string"),
    ([1], "a number or a decimal string"), ({"v": 1}, "a number or a decimal string"),
    ("\ud800", "not a decimal number"), ("9" * 5000, "out of range"),
])
def test_an_exotic_quantity_is_refused_with_a_reason(value, reason):
    with pytest.raises(InvalidSignal, match=reason) as refused:
        parse_signal(body(quantity=value), received_at=AT)
    assert len(str(refused.value)) < 200  # a huge value is never quoted back whole
    str(refused.value).encode("utf8")  # and the reason can always be stored


@pytest.mark.parametrize("value", ["0", "100", "1e3", "NaN", "-0", "1e-400"])
def test_a_percent_outside_zero_to_100_is_refused(value):
    with pytest.raises(InvalidSignal, match="stop_loss_percent"):
        parse_signal(body(stop_loss_percent=value), received_at=AT)


@pytest.mark.parametrize("signal_id", ["", "  ", "x" * 65, "s 1", "s/1", "s\u00e9", "\u0661\u0662\u0663",
                                       "\ud800", 7, None])
def test_a_signal_id_is_1_to_64_ascii_letters_digits_dash_underscore_dot(signal_id):
    with pytest.raises(InvalidSignal, match="signal_id"):
        parse_signal(body(signal_id=signal_id), received_at=AT)


def test_the_key_is_what_the_position_id_is_made_of():
    assert signal_key(body(exchange="binance")) == ("binanceusdm", "main", "s1")
    assert signal_key(body(account="sub-2")) == ("bybit", "sub-2", "s1")
    with pytest.raises(InvalidSignal, match="exchange"):
        signal_key(body(exchange="kraken"))
