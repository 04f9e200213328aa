"""`SignalBook`: one aggregate per UTC day recording signals that opened nothing; `SignalClaim`:
a signal that added to an open position instead of opening its own.

A malformed, impossible or duplicate signal is never just dropped: its rejection and the payload
are recorded here. Partitioning by day keeps each stream short.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from warden.domain.evidence import evidence
from warden.domain.ids import NAMESPACE


class SignalBook(Aggregate):
    class Opened(Aggregate.Created):
        day: str  # ISO date

    class SignalRejected(Aggregate.Event):
        signal_id: str | None
        reason: str
        raw: dict[str, Any]

        def apply(self, book: SignalBook) -> None:
            book.rejected += 1

    class SignalDuplicated(Aggregate.Event):
        signal_id: str
        position_id: UUID
        raw: dict[str, Any]

        def apply(self, book: SignalBook) -> None:
            book.duplicates += 1

    def __init__(self, day: str) -> None:
        self.day = day
        self.rejected = 0
        self.duplicates = 0

    @staticmethod
    def id_for(day: date) -> UUID:
        return uuid5(NAMESPACE, f"signals/{day.isoformat()}")

    @classmethod
    def open(cls, day: date, *, at: datetime) -> SignalBook:
        return cls._create(cls.Opened, id=cls.id_for(day), timestamp=at, day=day.isoformat())

    def reject(self, *, signal_id: str | None, reason: str, raw: Any, at: datetime) -> None:
        self.trigger_event(self.SignalRejected, timestamp=at, signal_id=signal_id, reason=reason,
                           raw=evidence(raw))

    def record_duplicate(self, *, signal_id: str, position_id: UUID, raw: dict[str, Any],
                         at: datetime) -> None:
        self.trigger_event(self.SignalDuplicated, timestamp=at, signal_id=signal_id,
                           position_id=position_id, raw=evidence(raw))


class SignalClaim(Aggregate):
    """A signal that scaled into an open position (the ``scale_in`` policy) rather than opening its
    own. Its id is the id the signal's own position would have had, so the store refuses to claim
    the same signal twice and a repeat reads as a duplicate, never as a second scale-in."""

    class Claimed(Aggregate.Created):
        class_version = 1

        signal_id: str
        position_id: UUID  # the open position the signal added to

    def __init__(self, signal_id: str, position_id: UUID) -> None:
        self.signal_id = signal_id
        self.position_id = position_id

    @classmethod
    def claim(cls, *, claim_id: UUID, signal_id: str, position_id: UUID, at: datetime) -> SignalClaim:
        return cls._create(cls.Claimed, id=claim_id, timestamp=at, signal_id=signal_id,
                           position_id=position_id)
