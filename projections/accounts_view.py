"""The accounts read model: the latest exchange report per (venue, account, symbol).

Fed by `PositionReported` (one symbol) and `PositionsSnapshotted` (a full REST snapshot: symbols of
that account absent from it are now flat). Every report is kept, tracked symbol or not, so phantom
checks and ``warden status`` can read the exchange's view without loading the account aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.reports import PositionReport
from warden.domain.values import ReportSource, Side
from warden.projections.ports import ReadModelDB, Tx
from warden.projections.rows import decode_row, to_text

DDL = (
    "CREATE TABLE IF NOT EXISTS accounts_view ("
    " venue TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL, account_id TEXT NOT NULL,"
    " side TEXT, size TEXT NOT NULL, entry_price TEXT, mark_price TEXT, stop_loss TEXT,"
    " liquidation_price TEXT, source TEXT NOT NULL, exchange_time TEXT, reported_at TEXT NOT NULL,"
    " PRIMARY KEY (venue, account, symbol))",
)
ROW_COLUMNS: dict[str, Any] = {
    "venue": str, "account": str, "symbol": str, "side": Side, "size": Decimal,
    "entry_price": Decimal, "mark_price": Decimal, "stop_loss": Decimal,
    "liquidation_price": Decimal, "source": ReportSource, "exchange_time": datetime.fromisoformat,
    "reported_at": datetime.fromisoformat,
}
_REPORT_FIELDS = ("side", "size", "entry_price", "mark_price", "stop_loss", "liquidation_price",
                  "source", "exchange_time")
_WRITTEN = ("venue", "account", "symbol", "account_id", *_REPORT_FIELDS, "reported_at")
UPSERT = (f"INSERT INTO accounts_view ({', '.join(_WRITTEN)}) "
          f"VALUES ({', '.join('?' for _ in _WRITTEN)}) ON CONFLICT (venue, account, symbol) DO UPDATE SET "
          + ", ".join(f"{c} = excluded.{c}" for c in _WRITTEN[3:]))


@dataclass(frozen=True)
class AccountRow:
    venue: str
    account: str
    symbol: str
    side: Side | None
    size: Decimal  # 0: flat
    entry_price: Decimal | None
    mark_price: Decimal | None
    stop_loss: Decimal | None
    liquidation_price: Decimal | None
    source: ReportSource
    exchange_time: datetime | None
    reported_at: datetime  # the event's time

    @property
    def is_flat(self) -> bool:
        return self.size == 0


class AccountsView:
    """The `Projection` that keeps ``accounts_view``."""

    name = "accounts_view"

    def wants(self, event_class: type) -> bool:
        return issubclass(event_class, ev.PositionReported | ev.PositionsSnapshotted)

    def setup(self, tx: Tx) -> None:
        for statement in DDL:
            tx.execute(statement)

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        for event in events:
            reports = [event.report] if isinstance(event, ev.PositionReported) else event.reports
            tx.executemany(UPSERT, [_row(event, r) for r in reports])
            if isinstance(event, ev.PositionsSnapshotted):
                self._flatten_absent(tx, event)

    def _flatten_absent(self, tx: Tx, event: Any) -> None:
        present = [r.symbol for r in event.reports]
        absent = f" AND symbol NOT IN ({', '.join('?' * len(present))})" if present else ""
        tx.execute("UPDATE accounts_view SET side = NULL, size = '0', entry_price = NULL,"
                   " mark_price = NULL, stop_loss = NULL, liquidation_price = NULL, source = ?,"
                   " exchange_time = NULL, reported_at = ? WHERE account_id = ? AND size <> '0'"
                   + absent, (ReportSource.REST.value, to_text(event.timestamp),
                              str(event.originator_id), *present))


def _row(event: Any, report: PositionReport) -> tuple[Any, ...]:
    fields = {f: getattr(report, f) for f in _REPORT_FIELDS}
    if report.is_flat:
        fields["size"] = "0"  # one spelling of flat, so SQL can test it (0.000 is flat too)
    values = (report.venue, report.account, report.symbol, event.originator_id, *fields.values(),
              event.timestamp)
    return tuple(to_text(v) for v in values)


def latest_reports(db: ReadModelDB, *, venue: str | None = None, account: str | None = None,
                   include_flat: bool = False) -> list[AccountRow]:
    """The latest report of each symbol, open ones only unless ``include_flat``."""
    sql, params = f"SELECT {', '.join(ROW_COLUMNS)} FROM accounts_view WHERE 1 = 1", []
    for column, value in (("venue", venue), ("account", account)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if not include_flat:
        sql += " AND size <> '0'"
    rows = db.read(sql + " ORDER BY venue, account, symbol", params)
    return [AccountRow(*decode_row(row, ROW_COLUMNS.values())) for row in rows]
