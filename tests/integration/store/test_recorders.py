"""The recorder subclasses (adapters/recorders.py) keep eventsourcing's semantics on real stores:
a version conflict rejects the whole save, notification ids follow the order of each save and of
commits, and the fast log read returns exactly what ``select_notifications`` returns."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder

from tests.builders import protected
from warden.adapters.recorders import PlainArrayAggregateRecorder, PlainArrayApplicationRecorder
from warden.adapters.store import WardenStore, open_store


def events(originator_id: UUID, versions: range, topic: str = "test:Event") -> list[StoredEvent]:
    return [StoredEvent(originator_id, v, topic, b'{"v":%d}' % v) for v in versions]


@pytest.fixture
def pg_store(pg_url: str) -> WardenStore:
    store = open_store(pg_url)
    yield store
    store.close()


@pytest.fixture
def no_composite_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    # eventsourcing's composite-array path builds each row with this; the plain-array one must not.
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("composite-type insert used")
    monkeypatch.setattr(PostgresAggregateRecorder, "construct_pg_stored_event", refuse)


@pytest.mark.postgres
@pytest.mark.usefixtures("no_composite_dump")
class TestPlainArrayRecorderOnPostgres:
    def test_the_store_saves_events_and_snapshots_without_the_composite_type(self, pg_store: WardenStore):
        assert isinstance(pg_store.recorder, PlainArrayApplicationRecorder)
        assert isinstance(pg_store.snapshots.recorder, PlainArrayAggregateRecorder)
        position = protected()
        pg_store.save(position)
        pg_store.take_snapshot(position.id)
        assert pg_store.repository.get(position.id).state() == position.state()

    def test_a_save_gets_consecutive_notification_ids_in_its_own_order(self, pg_store: WardenStore):
        a, b = uuid4(), uuid4()
        batch = [*events(b, range(1, 4)), *events(a, range(1, 3)), *events(b, range(4, 6))]
        ids = pg_store.recorder.insert_events(batch)
        assert ids == list(range(ids[0], ids[0] + len(batch)))
        stored = pg_store.recorder.select_notifications(start=ids[0], limit=100)
        assert [(n.originator_id, n.originator_version) for n in stored] == \
            [(e.originator_id, e.originator_version) for e in batch]
        assert [n.state for n in stored] == [e.state for e in batch]

    def test_a_version_conflict_rejects_the_whole_save(self, pg_store: WardenStore):
        a, b = uuid4(), uuid4()
        pg_store.recorder.insert_events(events(a, range(1, 3)))
        before = pg_store.recorder.max_notification_id()
        with pytest.raises(IntegrityError):
            pg_store.recorder.insert_events([*events(b, range(1, 3)), *events(a, range(2, 4))])
        assert pg_store.recorder.max_notification_id() == before
        assert pg_store.recorder.select_events(b) == []
        assert [e.originator_version for e in pg_store.recorder.select_events(a)] == [1, 2]

    def test_concurrent_saves_never_interleave_their_notification_ids(self, pg_store: WardenStore):
        # The table lock is what keeps each save's ids together and in commit order.
        results: list[list[int]] = []

        def writer() -> None:
            for _ in range(15):
                results.append(list(pg_store.recorder.insert_events(events(uuid4(), range(1, 41)))))

        threads = [threading.Thread(target=writer) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 45
        for ids in results:
            assert ids == list(range(ids[0], ids[0] + 40))
        assert sorted(i for ids in results for i in ids) == \
            [n.id for n in pg_store.stored_notifications(batch=7)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def durable_store(request: pytest.FixtureRequest, tmp_path) -> WardenStore:
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path}/w.sqlite3")
    else:
        store = open_store(request.getfixturevalue("pg_url"))
    yield store
    store.close()


def test_the_fast_log_read_returns_what_select_notifications_returns(durable_store: WardenStore):
    recorder = durable_store.recorder
    a, b = uuid4(), uuid4()
    recorder.insert_events(events(a, range(1, 4)))
    with pytest.raises(IntegrityError):  # on PostgreSQL this leaves a gap in the notification ids
        recorder.insert_events([*events(b, range(1, 3)), *events(a, range(3, 4))])
    recorder.insert_events([*events(b, range(1, 6)), *events(a, range(4, 6))])

    expected = recorder.select_notifications(start=1, limit=100)
    for batch in (1, 3, 4, 1000):
        assert list(durable_store.stored_notifications(batch=batch)) == expected
    rows = recorder.select_notification_rows(2, 4)
    assert [tuple(row) for row in rows] == \
        [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
         for n in recorder.select_notifications(start=2, limit=4)]
    assert all(type(row.originator_id) is UUID and type(row.state) is bytes for row in rows)
