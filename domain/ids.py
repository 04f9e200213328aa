"""Deterministic identifiers. The same inputs always give the same id, so a repeated signal maps to
the same aggregate and cannot open a second position."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1b8d2e-5a0c-4b7e-9c1d-3e2f4a5b6c7d")


def position_id(venue: str, account: str, signal_id: str) -> UUID:
    return uuid5(NAMESPACE, f"position/{venue}/{account}/{signal_id}")


def adopted_position_id(venue: str, account: str, symbol: str, seen_at: datetime) -> UUID:
    """A phantom adopted from the exchange: keyed by where and when it was first seen."""
    return uuid5(NAMESPACE, f"adopted/{venue}/{account}/{symbol}/{seen_at.isoformat()}")


def account_id(venue: str, account: str) -> UUID:
    return uuid5(NAMESPACE, f"account/{venue}/{account}")


def client_order_id(position: UUID, purpose: str, attempt: int = 0) -> str:
    """An exchange client order id derived from the position (idempotent resends). <= 36 chars."""
    return f"{client_order_id_prefix(position)}{purpose[:6]}{attempt}"[:36]


def client_order_id_prefix(position: UUID) -> str:
    """What every client order id of ``position`` starts with: how warden finds the orders it
    sent for a position on the venue, whatever their purpose."""
    return f"w{position.hex[:24]}"


def price_tape_id(venue: str, symbol: str) -> UUID:
    """The one price tape of a symbol on a venue."""
    return uuid5(NAMESPACE, f"tape/{venue}/{symbol}")
