"""The `PriceTape` aggregate: one per (venue, symbol), compact prices, refused nonsense."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders import at
from warden.domain.errors import InvalidMark
from warden.domain.price_tape import PriceTape
from warden.domain.values import PriceSource


def test_each_symbol_of_each_venue_has_one_tape_whoever_opens_it():
    first = PriceTape.open(venue="bybit", symbol="BTCUSDT", at=at(0))
    again = PriceTape.open(venue="bybit", symbol="BTCUSDT", at=at(9))
    assert first.id == again.id == PriceTape.id_for("bybit", "BTCUSDT")
    ids = {PriceTape.id_for(v, s) for v in ("bybit", "binanceusdm") for s in ("BTCUSDT", "ETHUSDT")}
    assert len(ids) == 4


@pytest.mark.parametrize("price", ["0", "-1", "NaN", "Infinity"])
def test_a_price_that_is_not_a_price_is_refused_and_records_nothing(price):
    tape = PriceTape.open(venue="bybit", symbol="BTCUSDT", at=at(0))
    with pytest.raises(InvalidMark):
        tape.record(price=Decimal(price), source=PriceSource.MARK, at=at(1))
    assert tape.version == 1


def test_a_replayed_tape_ends_at_its_last_price_and_its_events_carry_no_payload():
    tape = PriceTape.open(venue="bybit", symbol="BTCUSDT", at=at(0))
    for k, price in enumerate(("60000", "60010.5", "59990")):
        tape.record(price=Decimal(price), source=PriceSource.MARK, at=at(k + 1))
    events = tape.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert (replayed.last_price, replayed.last_at) == (Decimal("59990"), at(3))
    assert all(set(vars(e)) <= {"originator_id", "originator_version", "timestamp", "price", "source",
                                "originator_topic", "venue", "symbol"} for e in events)
