"""Stored events are forever: a reshaped class is upcast and a moved class keeps its old topic."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import register_topic

from tests.builders import at, filled, opened, protected
from warden.adapters.store import open_store
from warden.domain.events import PositionEvent
from warden.domain.exit_order import NO_EXIT_ORDER
from warden.domain.lifecycle import Intent
from warden.domain.position import Position
from warden.domain.values import CloseBasis, CloseReason, StopPurpose

V3_FIELDS = ("stop_order_ids", "requested_stop_client_id", "scale_in_signal_id",
             "scale_in_client_order_id", "scale_in_quantity")


class StopLossNudged(PositionEvent):
    """A test-only event at version 2: v1 stored ``price`` as a plain string and had no ``purpose``."""

    class_version = 2

    price: Decimal
    purpose: str

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["price"] = Decimal(state["price"])
        state["purpose"] = "unknown (recorded before v2)"


@pytest.mark.parametrize("url", ["memory://", "sqlite:///:memory:"])
def test_a_version_1_event_is_upcast_when_read(url):
    store = open_store(url)
    position = opened()
    store.save(position)
    v1_state = {"originator_id": {"_type_": "uuid_hex", "_data_": position.id.hex},
                "originator_version": 2,
                "timestamp": {"_type_": "datetime_iso", "_data_": at(5).isoformat()},
                "price": "58800.5"}  # no class_version key: written by version 1 of the class
    topic = f"{__name__}:StopLossNudged"
    store.recorder.insert_events([StoredEvent(position.id, 2, topic, json.dumps(v1_state).encode())])

    event = store.history(position.id)[-1]

    assert isinstance(event, StopLossNudged)
    assert event.price == Decimal("58800.5") and isinstance(event.price, Decimal)
    assert event.purpose == "unknown (recorded before v2)"


def test_a_renamed_event_class_still_reads_under_its_old_topic():
    store = open_store("memory://")
    position = opened()
    store.save(position)
    stored = store.recorder.select_events(position.id)[0]
    old_topic = "warden.old_module:SignalWasAccepted"
    register_topic(old_topic, type(store.history(position.id)[0]))
    store2 = open_store("memory://")
    store2.recorder.insert_events([StoredEvent(stored.originator_id, 1, old_topic, stored.state)])

    assert store2.repository.get(position.id).state() == position.state()


def test_a_version_1_position_snapshot_reads_its_pending_intent_as_an_enum():
    """Position v1 kept ``pending_intent`` as a plain string; snapshots of it are stored format."""
    store = open_store("memory://")
    position = filled()
    position.request_stop(price=Decimal("58800"), reference_price=Decimal("60000"),
                          purpose=StopPurpose.INITIAL, at=at(3))
    stored = store.mapper.to_stored_event(Position.Snapshot.take(position))
    snapshot = json.loads(stored.state)
    aggregate_state = snapshot["state"]
    assert aggregate_state.pop("class_version") == 4
    for later in (*V3_FIELDS, *NO_EXIT_ORDER):  # v1 kept neither the v3 fields nor the v4 ones
        aggregate_state.pop(later)
    aggregate_state["pending_intent"] = "stop"
    v1 = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                     json.dumps(snapshot).encode())

    restored = store.mapper.to_domain_event(v1).mutate(None)

    assert restored.pending_intent is Intent.STOP
    assert restored.state() == position.state()


def test_a_version_1_rejected_frame_reads_with_its_size_and_counts_once():
    """StreamFrameRejected v1 kept up to 4 KiB of the frame, one record per frame."""
    from warden.domain.account import ExchangeAccount

    store = open_store("memory://")
    account = ExchangeAccount.register(venue="bybit", account="main", at=at(0))
    account.record_rejected_frame(feed="ccxt-pro", reason="json: Expecting value", raw_text="}{ é",
                                  size=5, sha256="ab", at=at(1))
    store.save(account)
    stored = store.recorder.select_events(account.id)[-1]
    state = json.loads(stored.state)
    for v2_only in ("class_version", "size", "sha256", "unrecorded"):
        state.pop(v2_only)
    store2 = open_store("memory://")
    store2.recorder.insert_events([*store.recorder.select_events(account.id)[:-1],
                                   StoredEvent(stored.originator_id, stored.originator_version,
                                               stored.topic, json.dumps(state).encode())])

    event = store2.history(account.id)[-1]

    assert (event.raw_text, event.size, event.sha256, event.unrecorded) == ("}{ é", 5, "", {})
    assert store2.repository.get(account.id).frames_rejected == 1


def test_a_version_2_position_snapshot_knows_its_stop_order():
    """v3 keeps every stop order id the venue confirmed; a v2 snapshot had only the current one."""
    store = open_store("memory://")
    position = filled()
    position.request_stop(price=Decimal("58800"), reference_price=Decimal("60000"),
                          purpose=StopPurpose.INITIAL, at=at(3))
    position.confirm_stop(price=Decimal("58800"), reference_price=Decimal("60000"),
                          order_id="algo-7", at=at(4))
    stored = store.mapper.to_stored_event(Position.Snapshot.take(position))
    snapshot = json.loads(stored.state)
    snapshot["state"]["class_version"] = 2
    for later in (*V3_FIELDS, *NO_EXIT_ORDER):
        snapshot["state"].pop(later)
    v2 = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                     json.dumps(snapshot).encode())

    restored = store.mapper.to_domain_event(v2).mutate(None)

    assert restored.stop_order_ids == ["algo-7"] and restored.owns_order("algo-7", None)
    assert restored.state() == position.state()


def test_a_version_3_position_snapshot_reads_with_no_exit_order():
    """Position v4 added the aged exit order's fields; a v3 snapshot has none of them."""
    store = open_store("memory://")
    position = filled()
    stored = store.mapper.to_stored_event(Position.Snapshot.take(position))
    snapshot = json.loads(stored.state)
    snapshot["state"]["class_version"] = 3
    for name in NO_EXIT_ORDER:
        del snapshot["state"][name]
    v3 = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                     json.dumps(snapshot).encode())

    restored = store.mapper.to_domain_event(v3).mutate(None)

    assert not restored.exit_resting and restored.exit_intent is None
    assert restored.state() == position.state()


def rewritten(store, position, event_name: str, rewrite) -> object:
    """Store ``position``, rewrite the stored state of its ``event_name`` event as an older
    version of the class wrote it, and read the position's history back."""
    store.save(position)
    stored = [e for e in store.recorder.select_events(position.id) if e.topic.endswith(event_name)]
    state = json.loads(stored[0].state)
    rewrite(state)
    fresh = open_store("memory://")
    fresh.recorder.insert_events([
        StoredEvent(e.originator_id, e.originator_version, e.topic,
                    json.dumps(state).encode() if e is stored[0] else e.state)
        for e in store.recorder.select_events(position.id)])
    return next(e for e in fresh.history(position.id) if type(e).__name__ == event_name)


@pytest.mark.parametrize(("reason", "basis"), [
    (CloseReason.STOP_HIT, CloseBasis.PRICE_GUESS),  # v1 read it from the exit price
    (CloseReason.CLOSED_EXTERNALLY, CloseBasis.PRICE_GUESS),
    (CloseReason.AGED_EXIT, CloseBasis.WARDEN_ORDER),  # v1 recorded warden's own closes too
])
def test_a_version_1_close_says_how_its_reason_was_known(reason, basis):
    position = protected()
    position.close(exit_price=Decimal("58790"), fees=Decimal("0.3"), reason=reason, at=at(9))

    def as_v1(state: dict) -> None:
        assert state.pop("class_version") == 2
        for v2_only in ("basis", "closed_by", "detail"):
            state.pop(v2_only)

    closed = rewritten(open_store("memory://"), position, "PositionClosed", as_v1)

    assert (closed.reason, closed.basis, closed.closed_by, closed.detail) == (reason, basis, None, None)


def test_a_version_2_stop_request_had_no_client_id():
    position = protected()

    def as_v2(state: dict) -> None:
        assert state.pop("class_version") == 3 and state.pop("client_order_id") is None
        state["class_version"] = 2

    requested = rewritten(open_store("memory://"), position, "StopLossRequested", as_v2)

    assert requested.client_order_id is None and requested.purpose is StopPurpose.INITIAL
