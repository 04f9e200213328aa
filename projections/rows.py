"""Values as read-model columns store them, and back: exact and portable across SQLite and
PostgreSQL (text for Decimals, enum values, ISO 8601 times with their offset)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any


def to_text(value: Any) -> Any:
    """A value as stored: exact text for a Decimal, an Enum's value, ISO 8601 (with offset) for a time."""
    if value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # Decimal, UUID: str() round-trips exactly


def decode_row(row: Sequence[Any], converters: Iterable[Callable[[Any], Any]]) -> list[Any]:
    """A stored row back to values, one converter per column (NULL stays None)."""
    return [None if v is None else convert(v) for v, convert in zip(row, converters, strict=True)]
