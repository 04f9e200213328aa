"""What the lifecycle machine needs to know about `Position`'s commands.

Each command declares the one event it records (``@records`` in `warden.domain.position`), so a
test checks a command's outcome, or a recorded history, against the one table: `TRANSITIONS`.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

from warden.domain.position import Position
from warden.domain.values import CloseReason, ExitAction, PriceSource, StopPurpose

COMMAND_EVENTS: dict[str, type] = {name: command.records for name, command
                                   in inspect.getmembers(Position) if hasattr(command, "records")}
ENDING_COMMANDS = ("close", "reject_entry", "roll_back")
OTHER_COMMANDS = tuple(sorted(set(COMMAND_EVENTS) - set(ENDING_COMMANDS)))


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
        "record_unresolved_fill": {"reason": "no price yet"},
        "reject_entry": {"reason": "cancelled", "code": None},
        "request_stop": {"price": stop, "reference_price": reference,
                         "purpose": StopPurpose.CORRECTION},
        "confirm_stop": {"price": stop, "reference_price": reference, "order_id": None},
        "reject_stop": {"price": stop, "code": None, "reason": "any"},
        "observe_mark": {"price": mark, "source": PriceSource.TICKER},
        "activate_trailing": {"price": mark, "activation_percent": Decimal(1)},
        "confirm_stop_move": {"new_price": stop, "reference_price": reference, "order_id": None},
        "age": {"age_seconds": age, "max_age_seconds": max_age},
        "enter_aged_phase": {"phase": phase, "limit_price": None},
        "request_exit_order": {"action": ExitAction.PLACE, "price": mark, "quantity": qty,
                               "phase": phase, "client_order_id": "cid-exit"},
        "confirm_exit_order": {"order_id": "exit-1", "price": mark},
        "confirm_exit_amend": {"price": mark},
        "confirm_exit_cancel": {"filled_qty": Decimal(0), "reason": "any"},
        "record_exit_fill": {"filled_qty": qty, "average_price": mark},
        "reject_exit_order": {"code": None, "reason": "any"},
        "request_close": {"reason": CloseReason.MANUAL, "client_order_id": None, "limit_price": None},
        "close": {"exit_price": mark, "fees": Decimal(0), "reason": CloseReason.MANUAL},
        "roll_back": {"reason": "any", "exit_price": mark, "fees": Decimal(0)},
        "request_scale_in": {"signal_id": "sig-add", "quantity": qty, "client_order_id": "cid-add"},
        "fill_scale_in": {"price": mark, "quantity": qty, "source": PriceSource.EXECUTIONS},
        "reject_scale_in": {"reason": "refused", "code": None},
        "follow_adopted_size": {"size": qty * 2, "entry_price": mark},
    }[command]
