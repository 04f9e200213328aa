from __future__ import annotations

import inspect

import pytest

from warden.domain import events as ev
from warden.domain.errors import InvalidTransition
from warden.domain.lifecycle import INITIAL, TRANSITIONS, Status, leads_to, next_status, reachable
from warden.domain.position import Position


@pytest.mark.parametrize(("start", "event", "end"), [
    (Status.PENDING, ev.EntryFilled, Status.FILLED),
    (Status.PENDING, ev.EntryRejected, Status.CLOSED),
    (Status.FILLED, ev.StopLossPlaced, Status.PROTECTED),
    (Status.FILLED, ev.PositionRolledBack, Status.CLOSED),
    (Status.PROTECTED, ev.TrailingActivated, Status.TRAILING),
    (Status.PROTECTED, ev.PositionAged, Status.AGED),
    (Status.TRAILING, ev.PositionAged, Status.AGED),
    (Status.PROTECTED, ev.PositionClosed, Status.CLOSED),
    (Status.TRAILING, ev.PositionClosed, Status.CLOSED),
    (Status.AGED, ev.PositionClosed, Status.CLOSED),
])
def test_the_documented_paths_are_legal(start, event, end):
    assert next_status(start, event) is end


def test_an_illegal_transition_names_from_and_to():
    with pytest.raises(InvalidTransition, match=r"^FILLED -> TRAILING \(TrailingActivated\)$") as err:
        next_status(Status.FILLED, ev.TrailingActivated)
    assert err.value.from_status is Status.FILLED and err.value.to is Status.TRAILING
    assert err.value.event is ev.TrailingActivated


def test_an_illegal_event_that_never_changes_the_status_is_named_itself():
    with pytest.raises(InvalidTransition, match=r"^PENDING -> StopLossRequested$") as err:
        next_status(Status.PENDING, ev.StopLossRequested)
    assert err.value.to is ev.StopLossRequested


def test_each_event_leads_into_at_most_one_status():
    """What makes "FROM -> TO" unambiguous: the table itself names where an event leads."""
    for event_class, edges in TRANSITIONS.items():
        moves = {to for source, to in edges.items() if to is not source}
        assert len(moves) <= 1, f"{event_class.__name__} leads to {moves}"
        assert leads_to(event_class) is (next(iter(moves)) if moves else None)


def test_closed_is_terminal():
    assert not [e for e, edges in TRANSITIONS.items() if Status.CLOSED in edges]
    for event_class in TRANSITIONS:
        with pytest.raises(InvalidTransition, match=r"^CLOSED -> "):
            next_status(Status.CLOSED, event_class)


def test_every_status_is_reachable_from_pending_and_every_open_one_can_close():
    assert reachable(Status.PENDING) == frozenset(Status)
    for status in Status:
        assert Status.CLOSED in reachable(status)


def test_trailing_needs_protection_first():
    assert Status.TRAILING not in {edges.get(Status.FILLED) for edges in TRANSITIONS.values()}
    assert Status.TRAILING not in {edges.get(Status.PENDING) for edges in TRANSITIONS.values()}


def test_the_table_covers_every_position_event_and_every_command_records_one():
    """One vocabulary: every event after creation is in the table, every command declares the
    event it records, and no event lacks a command."""
    position_events = {c for _, c in inspect.getmembers(ev, inspect.isclass)
                       if issubclass(c, ev.PositionEvent) and c is not ev.PositionEvent}
    assert set(TRANSITIONS) == position_events
    assert set(INITIAL) == {ev.SignalAccepted, ev.PositionAdopted}
    recorded = [f.records for _, f in inspect.getmembers(Position) if hasattr(f, "records")]
    assert sorted(recorded, key=str) == sorted(TRANSITIONS, key=str)
