"""One contract, three stores: in-memory, SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import io
from datetime import timedelta, timezone
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError

from tests.builders import SATS, at, opened, protected
from tests.stores import OnMemory, OnPostgres, OnSQLite
from warden.adapters.eventlog import export_log, import_log
from warden.adapters.store import WardenStore, open_store
from warden.domain.account import ExchangeAccount
from warden.domain.lifecycle import Status
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason, PriceSource, ReportSource, Side


class StoreContract:
    """Subclasses provide ``store_url``; every test here must pass unchanged on each store."""

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, store_url: str) -> WardenStore:
        return open_store(store_url)

    def test_a_position_round_trips_with_exact_decimals_enums_and_times(self, store: WardenStore):
        position = opened(Side.SHORT, instrument=SATS, qty="1200")
        position.record_entry_order(client_order_id="c1", order_id="o1", at=at(1))
        odd_zone = timezone(timedelta(hours=5, minutes=30))
        position.fill(price=Decimal("0.0001230"), quantity=Decimal("1200"),
                      source=PriceSource.ORDER_QUERY, at=at(2).astimezone(odd_zone), fee=Decimal("0E-8"))
        store.save(position)

        loaded = store.repository.get(position.id)

        assert loaded.state() == position.state()
        assert str(loaded.entry_price) == "0.0001230"  # the exponent survives, not just the value
        assert loaded.side is Side.SHORT and loaded.status is Status.FILLED
        event = store.history(position.id)[-1]
        assert event.timestamp.utcoffset() == timedelta(hours=5, minutes=30)
        assert event.price_source is PriceSource.ORDER_QUERY

    def test_a_repeated_signal_cannot_open_a_second_position(self, store: WardenStore):
        store.save(opened(signal_id="dup"))
        with pytest.raises(IntegrityError):
            store.save(opened(signal_id="dup"))
        assert len(store.history(opened(signal_id="dup").id)) == 1

    def test_snapshots_bound_the_events_read_to_load_a_long_history(self, store: WardenStore):
        # The rule (adapters/store.py): a save that reaches or crosses a multiple of 50 snapshots
        # the Position once, at its version after that save; a save that crosses none adds none.
        position = protected()

        def observe_and_save(marks: int) -> list[int]:
            for _ in range(marks):
                k = position.version
                position.observe_mark(price=Decimal(60000 + k), source=PriceSource.MARK, at=at(10 + k))
            store.save(position)
            return [s.originator_version for s in store.snapshots.get(position.id)]

        assert observe_and_save(125) == [130]  # crossed 50 and 100: one snapshot, at 130
        assert observe_and_save(15) == [130]  # 131..145 crosses no multiple of 50
        assert observe_and_save(5) == [130, 150]  # reaching 150 exactly
        assert observe_and_save(12) == [130, 150]
        assert len(store.history(position.id)) == position.version == 162
        assert store.repository.get(position.id).state() == position.state()
        # the tail after the latest snapshot is all a load has to read
        assert len(list(store.events.get(position.id, gt=150))) == 12
        assert store.repository.get(position.id, version=140).version == 140  # from the one at 130

    def test_loading_an_earlier_version_shows_the_state_at_that_point(self, store: WardenStore):
        position = protected()
        position.close(exit_price=Decimal("58800"), fees=Decimal("0.35"), reason=CloseReason.STOP_HIT,
                       at=at(60))
        store.save(position)
        assert store.repository.get(position.id, version=4).status is Status.FILLED
        assert store.repository.get(position.id).status is Status.CLOSED

    def test_the_account_records_reports_for_untracked_symbols(self, store: WardenStore):
        account = ExchangeAccount.register(venue="bybit", account="main", at=at(0))
        report = PositionReport("bybit", "main", "BTCUSDT", Side.LONG, Decimal("0.5"),
                                Decimal("60000"), Decimal("60010.5"), ReportSource.WEBSOCKET,
                                exchange_time=at(1), raw={"topic": "position"})
        account.record(report, at=at(1))
        for k in range(105):
            flat = k % 2 == 0
            account.record(PositionReport("bybit", "main", "ETHUSDT", None if flat else Side.SHORT,
                                          Decimal(0 if flat else 1), None, Decimal(3000 + k),
                                          ReportSource.REST), at=at(2 + k))
        store.save(account)

        loaded = store.repository.get(account.id)
        assert loaded.state() == account.state()
        assert loaded.open_positions()["BTCUSDT"].raw == {"topic": "position"}
        assert "ETHUSDT" not in loaded.open_positions()  # the last ETH report was flat

    def test_export_then_import_reproduces_the_log_and_the_aggregates(self, store: WardenStore,
                                                                      store_url: str):
        positions = [protected(signal_id=f"s{i}") for i in range(3)]
        for k in range(60):
            positions[0].observe_mark(price=Decimal(61000 + k), source=PriceSource.MARK, at=at(20 + k))
        store.save(*positions)
        exported = io.StringIO()
        assert export_log(store, exported) == sum(p.version for p in positions)

        fresh = open_store("memory://")
        result = import_log(fresh, io.StringIO(exported.getvalue()))
        again = io.StringIO()
        export_log(fresh, again)

        assert result.events == sum(p.version for p in positions) and result.snapshots == 1
        assert again.getvalue() == exported.getvalue()
        for position in positions:
            assert fresh.repository.get(position.id).state() == position.state()


class PersistentStoreContract(StoreContract):
    def test_a_reopened_store_still_has_every_position(self, store: WardenStore, store_url: str):
        position = protected()
        store.save(position)
        store.close()

        reopened = open_store(store_url)
        assert reopened.repository.get(position.id).state() == position.state()
        assert [e.originator_version for e in reopened.all_events()] == [1, 2, 3, 4, 5]


class TestMemoryStore(OnMemory, StoreContract):
    pass


class TestSQLiteStore(OnSQLite, PersistentStoreContract):
    pass


class TestPostgresStore(OnPostgres, PersistentStoreContract):
    pass
