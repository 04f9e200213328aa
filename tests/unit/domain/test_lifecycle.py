from __future__ import annotations

import pytest

from warden.domain.errors import InvalidTransition
from warden.domain.lifecycle import TRANSITIONS, Status, Trigger, next_status, reachable


@pytest.mark.parametrize(("start", "trigger", "end"), [
    (Status.PENDING, Trigger.ENTRY_FILLED, Status.FILLED),
    (Status.PENDING, Trigger.ENTRY_REJECTED, Status.CLOSED),
    (Status.FILLED, Trigger.STOP_PLACED, Status.PROTECTED),
    (Status.FILLED, Trigger.ROLLED_BACK, Status.CLOSED),
    (Status.PROTECTED, Trigger.TRAILING_ACTIVATED, Status.TRAILING),
    (Status.PROTECTED, Trigger.AGED, Status.AGED),
    (Status.TRAILING, Trigger.AGED, Status.AGED),
    (Status.PROTECTED, Trigger.CLOSED, Status.CLOSED),
    (Status.TRAILING, Trigger.CLOSED, Status.CLOSED),
    (Status.AGED, Trigger.CLOSED, Status.CLOSED),
])
def test_the_documented_paths_are_legal(start, trigger, end):
    assert next_status(start, trigger) is end


def test_an_illegal_transition_names_from_and_to():
    with pytest.raises(InvalidTransition, match=r"^FILLED -> TRAILING \(TRAILING_ACTIVATED\)$") as err:
        next_status(Status.FILLED, Trigger.TRAILING_ACTIVATED)
    assert err.value.from_status is Status.FILLED and err.value.to is Status.TRAILING


def test_closed_is_terminal():
    assert not [key for key in TRANSITIONS if key[0] is Status.CLOSED]
    for trigger in Trigger:
        with pytest.raises(InvalidTransition, match=r"^CLOSED -> "):
            next_status(Status.CLOSED, trigger)


def test_every_status_is_reachable_from_pending_and_every_open_one_can_close():
    assert reachable(Status.PENDING) == frozenset(Status)
    for status in Status:
        assert Status.CLOSED in reachable(status)


def test_trailing_needs_protection_first():
    assert Status.TRAILING not in {TRANSITIONS.get((Status.FILLED, t)) for t in Trigger}
    assert Status.TRAILING not in {TRANSITIONS.get((Status.PENDING, t)) for t in Trigger}
