"""The `ExchangeAccount` aggregate: every position report the exchange sent, tracked or not.

Phantom and ghost detection are derived from this log, so nothing the exchange says is skipped
(the seed bot dropped BTCUSDT updates because it did not track BTCUSDT). Its state is bounded (the
latest report per symbol), and the store snapshots it, so loading it does not grow with history.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from warden.domain import events as ev
from warden.domain.dispatch import Handlers
from warden.domain.evidence import evidence
from warden.domain.ids import account_id
from warden.domain.reports import FillReport, PositionReport
from warden.domain.values import PhantomPolicy, Side

_handles = Handlers("ExchangeAccount")
MAX_RAW_TEXT = 4096  # a garbage frame is evidence, not an invitation to fill the log


class ExchangeAccount(Aggregate):
    def __init__(self) -> None:
        """State is assigned by ``when`` from the creating event."""

    @classmethod
    def register(cls, *, venue: str, account: str, at: datetime) -> ExchangeAccount:
        return cls._create(ev.AccountRegistered, id=account_id(venue, account), timestamp=at,
                           venue=venue, account=account)

    def record(self, report: PositionReport, *, at: datetime) -> None:
        self._check_belongs(report)
        self.trigger_event(ev.PositionReported, timestamp=at, report=_safe(report))

    def record_snapshot(self, reports: list[PositionReport], *, at: datetime) -> bool:
        """Record a full REST snapshot when it says something the account's state does not already
        (a position opened, closed or changed size, entry, stop or liquidation price); an
        unchanged snapshot, the usual periodic one, records nothing. True when recorded."""
        for report in reports:
            self._check_belongs(report)
        if _substance(r for r in reports if not r.is_flat) == _substance(self.positions.values()):
            return False
        self.trigger_event(ev.PositionsSnapshotted, timestamp=at, reports=[_safe(r) for r in reports])
        return True

    def record_fill(self, fill: FillReport, *, at: datetime) -> None:
        self.trigger_event(ev.FillReported, timestamp=at, fill=_safe(fill))

    def record_rejected_frame(self, *, feed: str, reason: str, raw_text: str, at: datetime,
                              size: int | None = None, sha256: str = "",
                              unrecorded: dict[str, int] | None = None) -> None:
        self.trigger_event(ev.StreamFrameRejected, timestamp=at, feed=feed, reason=reason,
                           raw_text=raw_text[:MAX_RAW_TEXT], size=size, sha256=sha256,
                           unrecorded=dict(unrecorded or {}))

    def record_phantom(self, report: PositionReport, *, action: PhantomPolicy, at: datetime) -> None:
        self._check_belongs(report)
        self.trigger_event(ev.PhantomDetected, timestamp=at, report=_safe(report), action=action)

    def record_mismatch(self, report: PositionReport, *, position_id: UUID, expected_side: Side,
                 expected_size: Decimal, at: datetime) -> None:
        self.trigger_event(ev.PositionMismatch, timestamp=at, position_id=position_id,
                           expected_side=expected_side, expected_size=expected_size, report=_safe(report))

    def open_positions(self) -> dict[str, PositionReport]:
        """The latest non-flat report of each symbol."""
        return dict(self.positions)

    def _check_belongs(self, report: PositionReport) -> None:
        if (report.venue, report.account) != (self.venue, self.account):
            raise ValueError(f"report for {report.venue}/{report.account} recorded on "
                             f"{self.venue}/{self.account}")

    def when(self, event: object) -> None:
        _handles.dispatch(self, event)

    @_handles(ev.AccountRegistered)
    def _(self, e: ev.AccountRegistered) -> None:
        self.venue, self.account = e.venue, e.account
        self.positions: dict[str, PositionReport] = {}
        self.reports_seen = self.phantoms_seen = self.mismatches_seen = 0
        self.fills_seen = self.frames_rejected = 0
        self.last_report_at: datetime | None = None
        self.last_snapshot_at: datetime | None = None

    @_handles(ev.PositionReported)
    def _(self, e: ev.PositionReported) -> None:
        self._apply_report(e.report)
        self.reports_seen += 1
        self.last_report_at = e.timestamp

    @_handles(ev.PositionsSnapshotted)
    def _(self, e: ev.PositionsSnapshotted) -> None:
        self.positions = {r.symbol: r for r in e.reports if not r.is_flat}
        self.reports_seen += len(e.reports)
        self.last_report_at = self.last_snapshot_at = e.timestamp

    @_handles(ev.FillReported)
    def _(self, e: ev.FillReported) -> None:
        self.fills_seen += 1

    @_handles(ev.StreamFrameRejected)
    def _(self, e: ev.StreamFrameRejected) -> None:
        self.frames_rejected += (e.size is not None) + sum(e.unrecorded.values())

    @_handles(ev.PhantomDetected)
    def _(self, e: ev.PhantomDetected) -> None:
        self.phantoms_seen += 1

    @_handles(ev.PositionMismatch)
    def _(self, e: ev.PositionMismatch) -> None:
        self.mismatches_seen += 1

    def _apply_report(self, report: PositionReport) -> None:
        if report.is_flat:
            self.positions.pop(report.symbol, None)
        else:
            self.positions[report.symbol] = report

    def state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "_pending_events"}


def _substance(reports: Any) -> dict[str, tuple[Any, ...]]:
    """What a position report says about the position itself, per symbol: not the mark price or
    the time, which change on every read (prices have their own record)."""
    return {r.symbol: (r.side, r.size, r.entry_price, r.stop_loss, r.liquidation_price)
            for r in reports}


def _safe(report: Any) -> Any:
    return replace(report, raw=evidence(report.raw))
