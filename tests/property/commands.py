"""What the lifecycle machine needs to know about `Position`'s commands and events.

Each command and each event maps to the one `Trigger` of the lifecycle table it fires, so a test
can check a command's outcome, or a recorded history, against `TRANSITIONS`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.lifecycle import Trigger
from warden.domain.position import Position
from warden.domain.values import CloseReason, PriceSource

# By name, and only those the domain has: the lifecycle grows (entry intents, refused and unresolved
# fills) and this suite should cover each command as soon as it exists, without a lockstep edit.
_COMMANDS = {
    "request_entry_order": "ENTRY_ORDER_REQUESTED",
    "record_entry_order": "ENTRY_ORDER_PLACED",
    "fill": "ENTRY_FILLED",
    "refuse_fill": "FILL_REFUSED",
    "fill_unresolved": "FILL_UNRESOLVED",
    "reject_entry": "ENTRY_REJECTED",
    "request_stop": "STOP_REQUESTED",
    "stop_placed": "STOP_PLACED",
    "stop_rejected": "STOP_REJECTED",
    "observe_mark": "MARK_OBSERVED",
    "activate_trailing": "TRAILING_ACTIVATED",
    "stop_moved": "STOP_MOVED",
    "age": "AGED",
    "enter_aged_phase": "AGED_PHASE",
    "request_close": "CLOSE_REQUESTED",
    "close": "CLOSED",
    "roll_back": "ROLLED_BACK",
}
_EVENTS = {
    "EntryOrderRequested": "ENTRY_ORDER_REQUESTED",
    "EntryOrderPlaced": "ENTRY_ORDER_PLACED",
    "EntryFilled": "ENTRY_FILLED",
    "FillRefused": "FILL_REFUSED",
    "FillUnresolved": "FILL_UNRESOLVED",
    "EntryRejected": "ENTRY_REJECTED",
    "StopLossRequested": "STOP_REQUESTED",
    "StopLossPlaced": "STOP_PLACED",
    "StopLossRejected": "STOP_REJECTED",
    "MarkPriceObserved": "MARK_OBSERVED",
    "TrailingActivated": "TRAILING_ACTIVATED",
    "StopLossMoved": "STOP_MOVED",
    "PositionAged": "AGED",
    "AgedPhaseEntered": "AGED_PHASE",
    "CloseRequested": "CLOSE_REQUESTED",
    "PositionClosed": "CLOSED",
    "PositionRolledBack": "ROLLED_BACK",
}
COMMAND_TRIGGERS = {command: Trigger[trigger] for command, trigger in _COMMANDS.items()
                    if hasattr(Position, command) and trigger in Trigger.__members__}
EVENT_TRIGGERS: dict[type, Trigger] = {getattr(ev, name): Trigger[trigger]
                                       for name, trigger in _EVENTS.items() if hasattr(ev, name)}
ENDING_COMMANDS = ("close", "reject_entry", "roll_back")
OTHER_COMMANDS = tuple(sorted(set(COMMAND_TRIGGERS) - set(ENDING_COMMANDS)))


def plausible_arguments(command: str, *, mark: Decimal, stop: Decimal, reference: Decimal,
                        qty: Decimal, age: int, max_age: int, phase: int) -> dict[str, Any]:
    """Arguments for ``command`` that are well-formed, so mostly the status decides the outcome
    (a stop may still be off-side or loosen, a fill may overfill: those must be refused cleanly)."""
    return {
        "request_entry_order": {"client_order_id": "cid-any"},
        "record_entry_order": {"client_order_id": "cid-any", "order_id": None},
        "fill": {"price": mark, "quantity": qty, "source": PriceSource.ORDER_QUERY},
        "refuse_fill": {"price": Decimal(0), "quantity": qty, "source": PriceSource.ORDER_RESPONSE,
                        "reason": "price 0"},
        "fill_unresolved": {"reason": "no price yet"},
        "reject_entry": {"reason": "cancelled", "code": None},
        "request_stop": {"price": stop, "reference_price": reference, "purpose": "correction"},
        "stop_placed": {"price": stop, "reference_price": reference, "order_id": None},
        "stop_rejected": {"price": stop, "code": None, "reason": "any"},
        "observe_mark": {"price": mark, "source": PriceSource.TICKER},
        "activate_trailing": {"price": mark, "activation_percent": Decimal(1)},
        "stop_moved": {"new_price": stop, "reference_price": reference, "order_id": None},
        "age": {"age_seconds": age, "max_age_seconds": max_age},
        "enter_aged_phase": {"phase": phase, "limit_price": None},
        "request_close": {"reason": CloseReason.MANUAL, "client_order_id": None, "limit_price": None},
        "close": {"exit_price": mark, "fees": Decimal(0), "reason": CloseReason.MANUAL},
        "roll_back": {"reason": "any", "exit_price": mark, "fees": Decimal(0)},
    }[command]
