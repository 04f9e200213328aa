"""The positions read model: one row per position with its current state, queryable without a replay.

`PositionsView` is a `Projection` for the runner. It folds each batch of Position events with the
domain's own ``event.mutate`` (no second copy of the lifecycle rules), starting from the state kept
in the row (an eventsourcing snapshot of the aggregate, upcast on read like any snapshot), and
writes each touched position once per batch. Decimals are stored as exact text, enums as their
values, times as ISO 8601 with offset. ``events_applied`` counts the events folded into a row: it
equals ``version`` unless an event was applied twice or skipped.

Queries (`open_positions`, `status_counts`, `get_position`) serve ``warden status``/``positions``
and let the engine find open positions on restart without scanning the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from warden.domain import events as ev
from warden.domain.lifecycle import Intent, Status
from warden.domain.position import Position
from warden.domain.values import CloseReason, Origin, Side
from warden.projections.ports import EventLog, ReadModelDB, Tx
from warden.projections.rows import decode_row, to_text

DDL = (
    "CREATE TABLE IF NOT EXISTS positions_view ("
    " id TEXT PRIMARY KEY, venue TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL,"
    " side TEXT NOT NULL, origin TEXT NOT NULL, status TEXT NOT NULL, quantity TEXT NOT NULL,"
    " filled_qty TEXT NOT NULL, entry_price TEXT, stop_price TEXT, last_mark TEXT, best_price TEXT,"
    " realized_pnl TEXT, close_reason TEXT, pending_intent TEXT, opened_at TEXT NOT NULL,"
    " closed_at TEXT, updated_at TEXT NOT NULL, version BIGINT NOT NULL,"
    " events_applied BIGINT NOT NULL, state_topic TEXT NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS positions_view_status ON positions_view (status)",
    # the latest price of each price tape: an open position's mark (its own events record only
    # the prices its decisions used)
    "CREATE TABLE IF NOT EXISTS tape_prices (id TEXT PRIMARY KEY, venue TEXT NOT NULL,"
    " symbol TEXT NOT NULL, price TEXT, at TEXT)",
)
TAPE_OPENED = "INSERT INTO tape_prices (id, venue, symbol) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"
# the newest by time: a price a decision used is recorded with its own, possibly older, time
TAPE_PRICE = "UPDATE tape_prices SET price = ?, at = ? WHERE id = ? AND (at IS NULL OR at <= ?)"
# Columns read back as `PositionRow`, in table order; a converter from the stored text per column.
ROW_COLUMNS: dict[str, Any] = {
    "id": UUID, "venue": str, "account": str, "symbol": str, "side": Side, "origin": Origin,
    "status": Status, "quantity": Decimal, "filled_qty": Decimal, "entry_price": Decimal,
    "stop_price": Decimal, "last_mark": Decimal, "best_price": Decimal, "realized_pnl": Decimal,
    "close_reason": CloseReason, "pending_intent": str, "opened_at": datetime.fromisoformat,
    "closed_at": datetime.fromisoformat, "updated_at": datetime.fromisoformat, "version": int,
    "events_applied": int,
}
_WRITTEN = (*ROW_COLUMNS, "state_topic", "state")
UPSERT = (f"INSERT INTO positions_view ({', '.join(_WRITTEN)}) "
          f"VALUES ({', '.join('?' for _ in _WRITTEN)}) ON CONFLICT (id) DO UPDATE SET "
          + ", ".join(f"{c} = excluded.{c}" for c in _WRITTEN if c != "id"))
_MARK = (f"CASE WHEN p.status <> '{Status.CLOSED.value}' THEN COALESCE(t.price, p.last_mark) "
         "ELSE p.last_mark END")
_SELECT = (f"SELECT {', '.join(_MARK if c == 'last_mark' else f'p.{c}' for c in ROW_COLUMNS)} "
           "FROM positions_view p LEFT JOIN tape_prices t ON t.venue = p.venue AND t.symbol = p.symbol")
_CHUNK = 500  # ids per IN (...) when loading rows: below every driver's parameter limit


@dataclass(frozen=True)
class PositionRow:
    id: UUID
    venue: str
    account: str
    symbol: str
    side: Side
    origin: Origin
    status: Status
    quantity: Decimal
    filled_qty: Decimal
    entry_price: Decimal | None
    stop_price: Decimal | None
    last_mark: Decimal | None
    best_price: Decimal | None
    realized_pnl: Decimal | None
    close_reason: CloseReason | None
    pending_intent: str | None  # "entry", "stop:<purpose>" or "close:<reason>" until the venue answers
    opened_at: datetime
    closed_at: datetime | None
    updated_at: datetime
    version: int
    events_applied: int

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> PositionRow:
        return cls(*decode_row(row, ROW_COLUMNS.values()))


class ViewOutOfStep(RuntimeError):
    """An event arrived for a position the view has no row for (the view and log disagree)."""


@dataclass
class _Touched:
    aggregate: Any
    applied: int
    intent: str | None


class PositionsView:
    """The `Projection` that keeps ``positions_view``."""

    name = "positions_view"

    def __init__(self, store: EventLog) -> None:
        self.mapper = store.mapper

    def wants(self, event_class: type) -> bool:
        return issubclass(event_class, ev.PositionEvent | ev.PositionCreated | ev.PriceTapeOpened
                          | ev.PriceRecorded)

    def setup(self, tx: Tx) -> None:
        for statement in DDL:
            tx.execute(statement)

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        tapes = [e for e in events if isinstance(e, ev.PriceTapeOpened | ev.PriceRecorded)]
        events = [e for e in events if isinstance(e, ev.PositionEvent | ev.PositionCreated)]
        touched = self._load(tx, {e.originator_id for e in events if e.originator_version > 1})
        for event in events:
            self.fold(touched, event)
        tx.executemany(UPSERT, [self._row(t) for t in touched.values()])
        self._tape_prices(tx, tapes)

    @staticmethod
    def _tape_prices(tx: Tx, events: Sequence[Any]) -> None:
        opened = [(str(e.originator_id), e.venue, e.symbol) for e in events
                  if isinstance(e, ev.PriceTapeOpened)]
        latest: dict[UUID, Any] = {}
        for e in events:
            if isinstance(e, ev.PriceRecorded) and (e.originator_id not in latest
                                                    or latest[e.originator_id].timestamp <= e.timestamp):
                latest[e.originator_id] = e
        if opened:
            tx.executemany(TAPE_OPENED, opened)
        if latest:
            tx.executemany(TAPE_PRICE, [(to_text(e.price), to_text(e.timestamp), str(e.originator_id),
                                         to_text(e.timestamp)) for e in latest.values()])

    def fold(self, touched: dict[UUID, _Touched], event: Any) -> None:
        entry = touched.get(event.originator_id)
        if entry is None:
            if event.originator_version != 1:
                raise ViewOutOfStep(f"positions_view has no row for {event.originator_id} "
                                    f"at event version {event.originator_version}")
            entry = touched[event.originator_id] = _Touched(None, 0, None)
        entry.aggregate = event.mutate(entry.aggregate)  # also checks the version sequence
        entry.applied += 1
        entry.intent = next_intent(entry.intent, event, entry.aggregate.status)

    def _load(self, tx: Tx, ids: Iterable[UUID]) -> dict[UUID, _Touched]:
        ids = [str(i) for i in ids]
        touched: dict[UUID, _Touched] = {}
        for k in range(0, len(ids), _CHUNK):
            chunk = ids[k:k + _CHUNK]
            rows = tx.fetchall("SELECT id, version, state_topic, state, events_applied, pending_intent"
                               f" FROM positions_view WHERE id IN ({', '.join('?' * len(chunk))})",
                               chunk)
            for id_, version, topic, state, applied, intent in rows:
                stored = StoredEvent(UUID(id_), int(version), topic, state.encode())
                snapshot = self.mapper.to_domain_event(stored)
                touched[UUID(id_)] = _Touched(snapshot.mutate(None), int(applied), intent)
        return touched

    def _row(self, t: _Touched) -> tuple[Any, ...]:
        a = t.aggregate
        stored = self.mapper.to_stored_event(Position.Snapshot.take(a))
        values = {**vars(a), "id": a.id, "version": a.version, "updated_at": a.modified_on,
                  "pending_intent": t.intent, "events_applied": t.applied}
        return (*(to_text(values[c]) for c in ROW_COLUMNS), stored.topic, stored.state.decode())


def next_intent(current: str | None, event: Any, status: Status) -> str | None:
    """What the position is waiting on the venue for, from the events, as shown in the row:
    ``entry``, ``stop:<purpose>`` or ``close:<reason>``."""
    if status is Status.CLOSED:
        return None
    entry, stop = Intent.ENTRY.value, f"{Intent.STOP.value}:"
    if isinstance(event, ev.EntryOrderRequested):
        return entry
    if isinstance(event, ev.EntryOrderPlaced | ev.EntryRejected) and current == entry:
        return None
    if isinstance(event, ev.StopLossRequested):
        return f"{stop}{event.purpose.value}"
    if isinstance(event, ev.CloseRequested):
        return f"{Intent.CLOSE.value}:{event.reason.value}"
    settled = isinstance(event, ev.StopLossPlaced | ev.StopLossRejected | ev.StopLossMoved)
    if settled and current is not None and current.startswith(stop):
        return None
    return current


# ----- queries ------------------------------------------------------------------------------
def open_positions(db: ReadModelDB, *, venue: str | None = None,
                   account: str | None = None) -> list[PositionRow]:
    """Every position not CLOSED, oldest first; optionally of one venue and account."""
    sql, params = f"{_SELECT} WHERE p.status <> ?", [Status.CLOSED.value]
    for column, value in (("venue", venue), ("account", account)):
        if value is not None:
            sql += f" AND p.{column} = ?"
            params.append(value)
    return [PositionRow.from_db(r) for r in db.read(sql + " ORDER BY p.opened_at, p.id", params)]


def all_positions(db: ReadModelDB) -> list[PositionRow]:
    """Every position, oldest first."""
    return [PositionRow.from_db(r) for r in db.read(f"{_SELECT} ORDER BY p.opened_at, p.id")]


def get_position(db: ReadModelDB, position_id: UUID) -> PositionRow | None:
    rows = db.read(f"{_SELECT} WHERE p.id = ?", (str(position_id),))
    return PositionRow.from_db(rows[0]) if rows else None


def status_counts(db: ReadModelDB) -> dict[Status, int]:
    """How many positions are in each status (statuses with none are absent)."""
    rows = db.read("SELECT status, COUNT(*) FROM positions_view GROUP BY status")
    return {Status(status): int(n) for status, n in rows}
