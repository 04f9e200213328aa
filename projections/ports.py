"""What read models need from the outside, as ports: the event log they follow and the SQL
database they write. `adapters/store.py` (`WardenStore`) and `adapters/readmodel_sql.py`
(`ReadModelDB`) implement them; projections import no adapter.

SQL is written once with ``?`` placeholders; the database adapter turns them into its driver's.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Tx(Protocol):
    """One open transaction of the read-model database; rows come back as tuples."""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    @property
    def for_update(self) -> str:
        """The row-lock suffix of a SELECT in this dialect ("" where the transaction locks)."""
        ...


class ReadModelDB(Protocol):
    """Where read models keep their tables and tracking positions: a batch's rows and how far it
    got commit in one `transaction` or not at all."""

    def transaction(self) -> AbstractContextManager[Tx]: ...

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class NotificationLog(Protocol):
    """The log in recorded order (eventsourcing's application recorder)."""

    def select_notifications(self, start: int, limit: int) -> Sequence[Any]: ...

    def max_notification_id(self) -> int | None: ...


class EventMapper(Protocol):
    """Stored events to domain events and back (eventsourcing's mapper)."""

    def to_domain_event(self, stored: Any) -> Any: ...

    def to_stored_event(self, event: Any) -> Any: ...


class EventLog(Protocol):
    """The event store as read models see it. ``available`` is False while the store is known to
    be down (the service's writer says so, adapters/writer.py): reading then would only wait."""

    recorder: NotificationLog
    mapper: EventMapper

    @property
    def available(self) -> bool: ...
