"""One projection contract, three stores: in-memory, SQLite file and a real PostgreSQL database.

The runner must commit a batch's effects and its tracking position together: nothing twice,
nothing lost, whatever crashes where.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.builders import BTC, SATS, at, filled, opened, protected
from tests.integration.projections.views import Boom, CrashingView, marked
from tests.stores import OnMemory, OnPostgres, OnSQLite
from warden.adapters.readmodel_sql import ReadModelDB, open_readmodel
from warden.adapters.store import WardenStore, open_store
from warden.domain.account import ExchangeAccount
from warden.domain.lifecycle import Status
from warden.domain.position import Position
from warden.domain.price_tape import PriceTape
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason, PriceSource, ReportSource, Side, StopPurpose
from warden.projections.accounts_view import AccountsView, latest_reports
from warden.projections.positions_view import (
    ROW_COLUMNS,
    PositionsView,
    get_position,
    open_positions,
    status_counts,
)
from warden.projections.runner import ProjectionConflict, ProjectionRunner


def variety() -> list[Position]:
    """Positions in every status, with partial fills, marks, intents, shorts and odd exponents."""
    closed = protected(signal_id="closed")
    closed.close(exit_price=Decimal("58800"), fees=Decimal("0.35"), reason=CloseReason.STOP_HIT,
                 at=at(60))
    trailing = protected(signal_id="trail")
    trailing.observe_mark(price=Decimal("61500.5"), source=PriceSource.MARK, at=at(10))
    trailing.activate_trailing(price=Decimal("61500.5"), activation_percent=Decimal("2"), at=at(11))
    trailing.request_stop(price=Decimal("60900.0"), reference_price=Decimal("61500.5"),
                          purpose=StopPurpose.TRAIL, at=at(12))
    partial = opened(signal_id="partial", qty="0.020")
    partial.fill(price=Decimal("60000"), quantity=Decimal("0.005"), source=PriceSource.EXECUTIONS,
                 at=at(5))
    closing = protected(Side.SHORT, signal_id="closing")
    closing.request_close(reason=CloseReason.MANUAL, client_order_id="x1", limit_price=None, at=at(30))
    rolled = filled(signal_id="rolled")
    rolled.roll_back(reason="stop rejected twice", exit_price=Decimal("59990"), fees=Decimal("0.3"),
                     at=at(9))
    sats = opened(Side.SHORT, signal_id="sats", instrument=SATS, qty="1200")
    sats.fill(price=Decimal("0.0001230"), quantity=Decimal("1200"), source=PriceSource.ORDER_QUERY,
              at=at(2))
    adopted = Position.adopt(venue="bybit", account="main", symbol="BTCUSDT", side=Side.LONG,
                             quantity=Decimal("0.5"), entry_price=Decimal("60000.10"),
                             price_source=PriceSource.POSITION, instrument=BTC, at=at(40))
    return [opened(signal_id="pending"), closed, trailing, partial, closing, rolled, sats, adopted]


def assert_row_matches(db: ReadModelDB, position: Position) -> None:
    row = get_position(db, position.id)
    assert row is not None, position.id
    for name in ROW_COLUMNS:
        if name not in ("id", "version", "events_applied", "updated_at", "pending_intent"):
            expected = getattr(position, name)
            assert getattr(row, name) == expected, name
            assert str(getattr(row, name)) == str(expected), name  # exact, exponent included
    assert (row.version, row.events_applied) == (position.version, position.version)
    assert row.updated_at == position.modified_on


def rows(db: ReadModelDB) -> list[tuple]:
    return db.read("SELECT * FROM positions_view ORDER BY id")


class ProjectionContract:
    """Subclasses provide ``store_url``; every test here must pass unchanged on each store."""

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[WardenStore]:
        store = open_store(store_url)
        yield store
        store.close()

    @pytest.fixture
    def db(self, store_url: str) -> Iterator[ReadModelDB]:
        db = open_readmodel(store_url)
        yield db
        db.close()

    def runner(self, store: WardenStore, db: ReadModelDB, view=None, batch: int = 1000):
        return ProjectionRunner(store, db, view or PositionsView(store), batch_size=batch)

    def test_the_view_matches_the_aggregates_after_a_batch_of_saves(self, store, db):
        positions = variety()
        store.save(*positions)

        processed = self.runner(store, db, batch=7).catch_up()

        assert processed == sum(p.version for p in positions)
        for position in positions:
            assert_row_matches(db, position)
        assert {r.id for r in open_positions(db)} == {p.id for p in positions if p.is_open}
        assert status_counts(db) == {Status.PENDING: 1, Status.FILLED: 3, Status.PROTECTED: 1,
                                     Status.TRAILING: 1, Status.CLOSED: 2}
        intents = {r.symbol + r.side.value: r.pending_intent for r in open_positions(db)}
        assert intents["BTCUSDTshort"] == "close:manual"
        assert get_position(db, positions[2].id).pending_intent == "stop:trail"
        assert get_position(db, positions[1].id).pending_intent is None  # closed: nothing pending

    def test_a_lagging_runner_catches_up_in_batches_of_one_transaction_each(self, store, db):
        runner = self.runner(store, db)
        runner.setup()
        positions = marked(100, 20)  # 100 x 25 = 2,500 events
        store.save(*positions)
        commits = db.commits

        progress = [runner.position]
        while runner.step():
            progress.append(runner.position)

        assert progress == [0, 1000, 2000, 2500]
        assert db.commits - commits == 3 and runner.batches == 3
        assert db.read("SELECT SUM(events_applied), COUNT(*) FROM positions_view")[0] == (2500, 100)
        for position in positions[::33]:
            assert_row_matches(db, position)

    def test_a_crash_inside_a_batch_commits_nothing_and_a_restart_applies_each_event_once(
            self, store, db):
        positions = marked(6, 5)  # 60 events
        store.save(*positions)
        crashing = self.runner(store, db, CrashingView(store, crash_at=25), batch=20)
        assert crashing.step() == 20
        before = rows(db)

        with pytest.raises(Boom):
            crashing.step()

        assert crashing.position == 20 and rows(db) == before
        restarted = self.runner(store, db, batch=20)
        assert restarted.setup() == 20
        assert restarted.catch_up() == 40
        assert db.read("SELECT SUM(events_applied) FROM positions_view")[0][0] == 60
        for position in positions:
            assert_row_matches(db, position)

    def test_a_restarted_runner_resumes_from_its_tracked_position(self, store, db, store_url):
        first = protected(signal_id="a")
        store.save(first)
        self.runner(store, db).catch_up()
        first.observe_mark(price=Decimal("61000"), source=PriceSource.MARK, at=at(9))
        store.save(first, protected(signal_id="b"))

        fresh_db = db if store_url == "memory://" else open_readmodel(store_url)
        again = self.runner(store, fresh_db)
        assert again.setup() == 5
        assert again.catch_up() == 6

        assert_row_matches(fresh_db, first)
        assert again.lag == 0 and again.position == store.recorder.max_notification_id()

    def test_two_runners_with_one_name_cannot_both_commit_a_batch(self, store, db):
        store.save(*marked(2, 0))
        one, two = self.runner(store, db), self.runner(store, db)
        one.setup(), two.setup()

        assert one.step() == 10
        with pytest.raises(ProjectionConflict):
            two.step()

        assert two.position == 10 and two.step() == 0
        assert db.read("SELECT SUM(events_applied) FROM positions_view")[0][0] == 10

    def test_an_open_positions_mark_is_the_latest_price_of_its_symbols_tape(self, store, db):
        live, gone = protected(signal_id="live"), protected(signal_id="gone")
        gone.close(exit_price=Decimal("58800"), fees=Decimal("0.35"), reason=CloseReason.STOP_HIT,
                   at=at(8))
        tape = PriceTape.open(venue="bybit", symbol="BTCUSDT", at=at(9))
        for k, price in enumerate(("60100", "60250.50")):
            tape.record(price=Decimal(price), source=PriceSource.MARK, at=at(10 + k))
        tape.record(price=Decimal("60050"), source=PriceSource.MARK, at=at(6))  # a decision's, older
        other = PriceTape.open(venue="bybit", symbol="ETHUSDT", at=at(9))
        other.record(price=Decimal("3000"), source=PriceSource.MARK, at=at(12))
        store.save(live, gone, tape, other)

        self.runner(store, db, batch=3).catch_up()

        assert str(get_position(db, live.id).last_mark) == "60250.50"
        assert get_position(db, gone.id).last_mark is None  # closed: its own, which it never had
        assert [r.last_mark for r in open_positions(db)] == [Decimal("60250.50")]

    def test_the_accounts_view_keeps_the_latest_report_and_flattens_what_a_snapshot_omits(
            self, store, db):
        account = ExchangeAccount.register(venue="bybit", account="main", at=at(0))

        def report(symbol: str, size: str, mark: str) -> PositionReport:
            return PositionReport("bybit", "main", symbol, Side.LONG, Decimal(size),
                                  Decimal("100.50"), Decimal(mark), ReportSource.WEBSOCKET,
                                  exchange_time=at(1))

        account.record(report("BTCUSDT", "0.5", "60000.0"), at=at(1))
        account.record(report("ETHUSDT", "2", "3000"), at=at(2))
        account.record(report("BTCUSDT", "0.7", "60100.00"), at=at(3))
        account.record_snapshot([report("ETHUSDT", "3", "3010")], at=at(4))
        store.save(account, protected())
        runner = ProjectionRunner(store, db, AccountsView(), batch_size=2)

        assert runner.catch_up() == 5 + 5
        open_ = latest_reports(db)
        assert [(r.symbol, r.size, r.mark_price) for r in open_] == [
            ("ETHUSDT", Decimal("3"), Decimal("3010"))]
        btc = next(r for r in latest_reports(db, include_flat=True) if r.symbol == "BTCUSDT")
        assert btc.is_flat and btc.side is None and btc.reported_at == at(4)


class TestMemoryProjections(OnMemory, ProjectionContract):
    pass


class TestSQLiteProjections(OnSQLite, ProjectionContract):
    pass


class TestPostgresProjections(OnPostgres, ProjectionContract):
    pass
