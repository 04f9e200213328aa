from __future__ import annotations

from decimal import Decimal

from tests.builders import at, opened
from warden.adapters.store import open_store
from warden.domain.evidence import evidence
from warden.domain.values import PriceSource


def test_a_payload_that_looks_like_a_stored_type_tag_is_escaped():
    assert evidence({"_type_": "nope", "_data_": 1, "x": [{"_type_": "decimal_str"}]}) == {
        "_type_ (escaped)": "nope", "_data_": 1, "x": [{"_type_ (escaped)": "decimal_str"}]}
    assert evidence(["not", "an", "object"]) == {"payload": "['not', 'an', 'object']"}
    assert evidence({1: "a"}) == {"1": "a"} and evidence(None) == {}


def test_an_aggregate_with_hostile_evidence_still_loads():
    store = open_store("memory://")
    position = opened()
    position.observe_mark(price=Decimal("60000"), source=PriceSource.MARK, at=at(1),
                          raw={"_type_": "uuid_hex", "_data_": "zz"})
    store.save(position)
    assert store.repository.get(position.id).state() == position.state()
