"""The group-commit writer (adapters/writer.py) on every store: what is pending commits together,
in order, with its snapshots, and a commit that fails loses nothing and never leaves a version gap.

Failures are injected with a subclass of the store's own recorder (`failing`), never a mock: the
rest of the commit path, the database and its constraints are real.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from tests.builders import at, opened, protected
from tests.stores import OnMemory, OnPostgres, OnSQLite
from warden.adapters.store import SNAPSHOT_INTERVALS, WardenStore, open_store
from warden.adapters.writer import STALL_S, VersionGap, Withdrawn
from warden.domain.position import Position
from warden.domain.values import PriceSource
from warden.engine.errors import StoreUnavailable


def mark(position: Position, times: int, start: int = 60_000) -> None:
    for i in range(times):
        position.observe_mark(price=Decimal(start + i), source=PriceSource.MARK, at=at(10 + i))


def failing(store: WardenStore, error: Callable[[], Exception], *, times: int = 1,
            after_commit: bool = False) -> list[int]:
    """Make the store's recorder fail its next ``times`` commits with ``error()`` (before the
    commit, or just after it as a lost answer); returns the list the attempts are counted in."""
    attempts: list[int] = []
    real = type(store.recorder)

    class Failing(real):  # type: ignore[misc, valid-type]
        def commit(self, stored: Any, snapshots: Any = ()) -> Any:
            attempts.append(len(stored))
            if len(attempts) <= times:
                if after_commit:
                    real.commit(self, stored, snapshots)
                raise error()
            return real.commit(self, stored, snapshots)

    store.recorder.__class__ = Failing
    return attempts


def hanging(store: WardenStore) -> threading.Event:
    """Make the store's next commit hang (as a database that accepts the connection and never
    answers) until the returned event is set; then it commits."""
    release = threading.Event()
    real = type(store.recorder)

    class Hanging(real):  # type: ignore[misc, valid-type]
        def commit(self, stored: Any, snapshots: Any = ()) -> Any:
            release.wait(30)
            return real.commit(self, stored, snapshots)

    store.recorder.__class__ = Hanging
    return release


def versions(store: WardenStore, position: Position) -> list[int]:
    return [e.originator_version for e in store.history(position.id)]


class WriterContract:
    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[WardenStore]:
        store = open_store(store_url)
        yield store
        store.close()

    async def test_saves_pending_together_commit_in_one_transaction_in_call_order(self, store):
        positions = [protected(signal_id=f"g-{i}") for i in range(40)]
        with store.writer._wake:  # the thread cannot take anything until all forty are queued
            saved = [store.record(p) for p in positions]
        recordings = [r for save in await asyncio.gather(*saved) for r in save]

        assert store.writer.batches == 1 and store.writer.largest_batch == 40
        log = [(n.originator_id, n.originator_version) for n in store.stored_notifications()]
        assert log == [(p.id, v) for p in positions for v in range(1, 6)]
        assert [r.notification.id for r in recordings] == [n.id for n in store.stored_notifications()]

    async def test_an_aggregates_saves_keep_their_order_across_batches(self, store):
        position = protected()
        saved = [store.record(position)]
        for round_ in range(30):
            mark(position, 3, start=60_000 + 10 * round_)
            saved.append(store.record(position))
            if round_ % 7 == 0:
                await asyncio.sleep(0)  # let some batches go
        await asyncio.gather(*saved)

        assert versions(store, position) == list(range(1, 96))
        assert store.load(position.id).state() == position.state()

    async def test_a_snapshot_is_written_with_the_events_that_make_it_due(self, store):
        position = protected()
        mark(position, SNAPSHOT_INTERVALS[Position] - position.version)
        await store.record(position)

        [snapshot] = store.snapshots.recorder.select_events(position.id)
        assert snapshot.originator_version == SNAPSHOT_INTERVALS[Position] == position.version
        assert store.load(position.id).state() == position.state()

    async def test_a_commit_that_fails_is_retried_in_order_and_leaves_no_gap(self, store):
        first = protected(signal_id="first")
        await store.record(first)
        attempts = failing(store, lambda: OperationalError("connection lost"), times=3)
        mark(first, SNAPSHOT_INTERVALS[Position] - first.version)
        second = protected(signal_id="second")
        saved = [store.record(first), store.record(second)]
        mark(first, 2)
        saved.append(store.record(first))

        await asyncio.wait_for(asyncio.gather(*saved), 10)

        assert len(attempts) >= 4  # three failures, then the commit of what had queued meanwhile
        assert versions(store, first) == list(range(1, SNAPSHOT_INTERVALS[Position] + 3))
        assert versions(store, second) == [1, 2, 3, 4, 5]
        assert store.load(first.id).state() == first.state()
        assert [s.originator_version for s in store.snapshots.recorder.select_events(first.id)] == \
            [SNAPSHOT_INTERVALS[Position]]  # once: the failed attempts wrote nothing
        assert store.available and store.unavailable_reason is None

    async def test_the_store_says_it_is_unavailable_while_a_commit_keeps_failing(self, store):
        failing(store, lambda: OperationalError("server closed the connection"), times=10**9)
        position = protected()
        saving = asyncio.ensure_future(store.record(position))
        for _ in range(100):
            if not store.available:
                break
            await asyncio.sleep(0.01)

        assert not store.available and "server closed the connection" in store.unavailable_reason
        assert not saving.done() and store.history(position.id) == []
        store.recorder.__class__ = type(store.recorder).__mro__[1]  # the store is back
        await asyncio.wait_for(saving, 10)
        assert versions(store, position) == [1, 2, 3, 4, 5] and store.available

    async def test_a_commit_that_does_not_answer_counts_as_an_outage_within_a_second(self, store):
        release = hanging(store)
        position = protected()
        saving = asyncio.ensure_future(store.record(position))
        started = time.monotonic()
        while store.available and time.monotonic() - started < 5:
            await asyncio.sleep(0.02)
        noticed = time.monotonic() - started
        assert not store.available and "no answer from the store" in store.unavailable_reason
        assert STALL_S <= noticed < STALL_S + 0.5
        release.set()
        await asyncio.wait_for(saving, 10)
        assert store.available and versions(store, position) == [1, 2, 3, 4, 5]

    async def test_a_withdrawn_save_of_a_new_aggregate_is_never_written(self, store):
        failing(store, lambda: OperationalError("server closed the connection"), times=10**9)
        withdrawn, kept = opened(signal_id="withdrawn"), protected(signal_id="kept")
        saves = [store.record(withdrawn), store.record(kept)]
        while store.available:
            await asyncio.sleep(0.01)
        store.withdraw(saves[0])  # its caller answered 503 meanwhile
        queued = opened(signal_id="queued")
        saves.append(store.record(queued))
        store.withdraw(saves[2])  # not taken by the thread yet: dropped at once
        with pytest.raises(Withdrawn):
            await asyncio.wait_for(asyncio.shield(saves[2]), 1)
        store.recorder.__class__ = type(store.recorder).__mro__[1]  # the store is back

        with pytest.raises(Withdrawn):
            await asyncio.wait_for(saves[0], 10)
        assert len(await asyncio.wait_for(saves[1], 10)) == 5
        assert store.history(withdrawn.id) == [] and store.history(queued.id) == []
        assert versions(store, kept) == [1, 2, 3, 4, 5]

    async def test_a_withdrawn_save_already_on_its_way_commits_and_says_so(self, store):
        release = hanging(store)
        position = opened(signal_id="late")
        saving = store.record(position)
        while store.available:
            await asyncio.sleep(0.02)
        store.withdraw(saving)  # too late: the commit is under way
        release.set()
        assert len(await asyncio.wait_for(saving, 10)) == 1
        assert versions(store, position) == [1]

    async def test_only_a_new_aggregates_save_can_be_withdrawn(self, store):
        position = protected()
        await store.record(position)
        failing(store, lambda: OperationalError("server closed the connection"), times=3)
        mark(position, 1)
        saving = store.record(position)
        store.withdraw(saving)  # would leave version 6 missing before the next save
        await asyncio.wait_for(saving, 10)
        assert versions(store, position) == [1, 2, 3, 4, 5, 6]

    async def test_a_read_that_hangs_is_given_up_and_the_loop_runs_on(self, store):
        position = protected()
        await store.record(position)
        release, real = threading.Event(), type(store.recorder)

        class HangingReads(real):  # type: ignore[misc, valid-type]
            def select_events(self, *args: Any, **kwargs: Any) -> Any:
                release.wait(30)
                return real.select_events(self, *args, **kwargs)

        store.recorder.__class__ = HangingReads
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(tick())
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"no answer to a read within 0\.3 s"):
            await store.read(store.load, position.id, wait_s=0.3)
        took = time.monotonic() - started
        ticking.cancel()
        release.set()
        assert 0.3 <= took < 0.6 and ticks >= 20  # the loop went on meanwhile

        store.writer._available, store.writer._reason = False, "OperationalError: down"
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="down"):  # known down: refused without asking
            await store.read(store.load, position.id)
        assert time.monotonic() - started < 0.05
        store.writer._available = True
        assert (await store.read(store.load, position.id)).state() == position.state()

    async def test_a_commit_whose_answer_was_lost_is_not_written_twice(self, store):
        position = protected()
        failing(store, lambda: OperationalError("the answer was lost"), after_commit=True)
        await asyncio.wait_for(store.record(position), 10)

        assert versions(store, position) == [1, 2, 3, 4, 5]
        mark(position, 1)
        await store.record(position)
        assert versions(store, position) == [1, 2, 3, 4, 5, 6]

    async def test_a_refused_save_fails_alone_and_the_others_in_its_batch_commit(self, store):
        await store.record(opened(signal_id="dup"))
        others = [protected(signal_id=f"o-{i}") for i in range(3)]
        with store.writer._wake:
            saved = [store.record(others[0]), store.record(opened(signal_id="dup")),
                     store.record(others[1]), store.record(others[2])]
        results = await asyncio.gather(*saved, return_exceptions=True)

        assert isinstance(results[1], IntegrityError)
        assert all(isinstance(r, list) and len(r) == 5 for r in (results[0], *results[2:]))
        assert all(versions(store, p) == [1, 2, 3, 4, 5] for p in others)

    async def test_an_aggregate_whose_save_is_refused_is_put_back_to_its_stored_state(self, store):
        position = protected()
        await store.record(position)
        stored_state = store.load(position.id).state()
        # another writer took version 6 behind warden's back: warden's next save conflicts
        rival = store.load(position.id)
        mark(rival, 1, start=1)
        store.save(rival)
        mark(position, 2)
        first = store.record(position)
        mark(position, 1)
        behind = store.record(position)  # queued behind the refused one: would leave a hole

        with pytest.raises(IntegrityError):
            await first
        with pytest.raises((VersionGap, IntegrityError)):
            await behind
        assert position.version == 6 and position.state() != stored_state  # the rival's mark
        assert position.state() == store.load(position.id).state()
        mark(position, 1)
        await store.record(position)
        assert versions(store, position) == [1, 2, 3, 4, 5, 6, 7]


class TestMemoryWriter(OnMemory, WriterContract):
    pass


class TestSQLiteWriter(OnSQLite, WriterContract):
    pass


class TestPostgresWriter(OnPostgres, WriterContract):
    pass
