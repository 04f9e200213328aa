"""The store's orjson transcoder writes and reads exactly what eventsourcing's stdlib one does."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from tests.builders import SATS, at, opened, protected
from warden.adapters.store import open_store
from warden.domain.account import ExchangeAccount
from warden.domain.reports import ClosingOrder, PositionReport, PriceAnswer
from warden.domain.values import CloseBasis, CloseReason, OrderOrigin, PriceSource, ReportSource, Side


def transcoders() -> tuple[JSONTranscoder, JSONTranscoder]:
    """(warden's, eventsourcing's stdlib one) with the same transcodings registered."""
    store = open_store("memory://")
    stdlib = JSONTranscoder()
    store.register_transcodings(stdlib)
    return store.mapper.transcoder, stdlib


def domain_events() -> list:
    position = protected(Side.SHORT)
    position.observe_mark(price=Decimal("59990.50"), source=PriceSource.MARK,
                          at=at(9).astimezone(timezone(timedelta(hours=-3, minutes=-30))),
                          raw={"list": [1, 2.5, None, True, {"nested": "ü€"}], "e": 1e16, "tiny": 1e-7})
    sats = opened(Side.SHORT, instrument=SATS, qty="1200", signal_id="s2")
    sats.refuse_fill(price=Decimal("0"), quantity=Decimal("0"), source=PriceSource.ORDER_QUERY,
                     reason='the order query answered Filled with avgPrice "0"', at=at(2),
                     raw={"avgPrice": "0", "orderStatus": "Filled"})
    sats.fill(price=Decimal("0.0001230"), quantity=Decimal("12E+2"), source=PriceSource.EXECUTIONS,
              at=at(2), fee=Decimal("0E-8"), asked=[
                  PriceAnswer(PriceSource.ORDER_RESPONSE, "named the order only", raw={"_type_": "x"}),
                  PriceAnswer(PriceSource.ORDER_QUERY, "answered Filled", price=Decimal("0"),
                              qty=Decimal("0E-3"), refused=True)])
    account = ExchangeAccount.register(venue="bybit", account="main", at=at(0))
    report = PositionReport("bybit", "main", "BTCUSDT", Side.LONG, Decimal("0.5"), Decimal("60000"),
                            Decimal("-0"), ReportSource.WEBSOCKET, exchange_time=at(1),
                            raw={"topic": "position", "_type_": "not a tag on its own"})
    account.record(report, at=at(1))
    account.record_snapshot([report, replace(report, size=Decimal("0.75"))], at=at(2))
    stopped = protected(Side.LONG, signal_id="s3")
    stopped.close(exit_price=Decimal("58795.5"), fees=Decimal("0.33"), reason=CloseReason.STOP_HIT,
                  basis=CloseBasis.VENUE_ORDER, at=at(5), closed_by=ClosingOrder(
                      "1007", None, OrderOrigin.POSITION_STOP, "StopLoss", Decimal("58800.0"),
                      Decimal("0.010"), Decimal("58795.5"), Decimal("0.33"),
                      raw={"stopOrderType": "StopLoss", "_type_": "x"}))
    scaled = protected(Side.SHORT, signal_id="s4")
    scaled.request_scale_in(signal_id="s5", quantity=Decimal("0.020"), client_order_id="wadd9",
                            at=at(6), raw={"signal_id": "s5"})
    scaled.fill_scale_in(price=Decimal("59950.5"), quantity=Decimal("0.020"),
                         source=PriceSource.EXECUTIONS, order_id="77", fee=Decimal("0.6"), at=at(7))
    return [*position.collect_events(), *sats.collect_events(), *account.collect_events(),
            *stopped.collect_events(), *scaled.collect_events()]


@pytest.mark.parametrize("index", range(len(domain_events())))
def test_every_event_is_stored_byte_for_byte_as_the_stdlib_transcoder_stores_it(index):
    fast, stdlib = transcoders()
    state = dict(vars(domain_events()[index]))

    stored = stdlib.encode(state)

    assert fast.encode(state) == stored
    assert fast.decode(stored) == stdlib.decode(stored) == state


def test_decimal_exponents_datetime_offsets_and_enum_members_survive():
    fast, _ = transcoders()
    odd = at(3).astimezone(timezone(timedelta(hours=5, minutes=45)))
    value = {"p": Decimal("0.0001230"), "z": Decimal("0E-8"), "big": Decimal("1.20E+5"), "t": odd,
             "side": Side.SHORT, "id": UUID(int=7)}

    back = fast.decode(fast.encode(value))

    assert [str(back[k]) for k in ("p", "z", "big")] == ["0.0001230", "0E-8", "1.20E+5"]
    assert back["t"] == odd and back["t"].utcoffset() == timedelta(hours=5, minutes=45)
    assert back["side"] is Side.SHORT and back["id"] == UUID(int=7)


class Colour(StrEnum):  # a str subclass: the stdlib writes it as a plain string, untagged
    RED = "red"


@pytest.mark.parametrize("value", [
    {"nan": float("nan"), "inf": float("-inf")},  # orjson would write null
    {"big": 2**70, "neg": -(2**64)},  # beyond orjson's 64-bit integers
    {"colour": Colour.RED},
    {"keys": {1: "int key", None: "null key"}},
], ids=["non-finite floats", "big ints", "str subclass", "non-str keys"])
def test_values_orjson_would_write_differently_fall_back_to_the_stdlib_bytes(value):
    fast, stdlib = transcoders()
    stored = stdlib.encode(value)
    assert fast.encode(value) == stored
    assert json.dumps(fast.decode(stored)) == json.dumps(stdlib.decode(stored))  # NaN != NaN


def test_an_unknown_type_tag_is_refused_as_before():
    fast, _ = transcoders()
    with pytest.raises(TranscodingNotRegisteredError):
        fast.decode(b'{"x":{"_type_":"enum:Gone","_data_":1}}')
