"""The runner's asyncio loop and the supervisor, in virtual time, against every store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

import pytest

from tests.builders import protected
from tests.integration.projections.views import CrashingView, StallingView, marked
from warden.adapters.readmodel_sql import ReadModelDB, open_readmodel
from warden.adapters.store import WardenStore, open_store
from warden.projections.positions_view import PositionsView
from warden.projections.runner import ProjectionRunner
from warden.projections.supervisor import Supervisor


class VirtualTime:
    """The supervisor's clock and sleep: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0.001)  # let the runner's threads report back


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        await asyncio.sleep(0.005)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/warden.sqlite3"


@pytest.fixture
def store(store_url: str) -> Iterator[WardenStore]:
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def db(store_url: str) -> Iterator[ReadModelDB]:
    db = open_readmodel(store_url)
    yield db
    db.close()


@contextlib.asynccontextmanager
async def running(supervisor: Supervisor):
    task = asyncio.create_task(supervisor.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def applied(db: ReadModelDB) -> int:
    return db.read("SELECT SUM(events_applied) FROM positions_view")[0][0]


async def test_the_supervisor_restarts_a_crashing_runner_and_reports_why(store, db):
    store.save(*marked(4, 5))  # 40 events
    runner = ProjectionRunner(store, db, CrashingView(store, crash_at=15), batch_size=10,
                              poll_interval=0.01)
    vt = VirtualTime()
    supervisor = Supervisor([runner], stall_timeout=1e9, check_interval=0.01, backoff_initial=0.5,
                            clock=vt.clock, sleep=vt.sleep)

    async with running(supervisor):
        await until(lambda: runner.position == 40)
        status = supervisor.status()[0]

    assert (status.name, status.state, status.restarts) == ("positions_view", "running", 1)
    assert status.last_error == "Boom: injected at event 15"
    assert (status.position, status.lag) == (40, 0)
    assert vt.now >= 0.5  # it backed off before restarting
    assert applied(db) == 40  # the crashed batch was redone, once
    assert supervisor.status()[0].state == "stopped"


async def test_the_supervisor_restarts_a_stalled_runner(store, db):
    store.save(*marked(4, 5))
    view = StallingView(store)
    runner = ProjectionRunner(store, db, view, poll_interval=0.01)
    vt = VirtualTime()
    supervisor = Supervisor([runner], stall_timeout=30, check_interval=1, clock=vt.clock,
                            sleep=vt.sleep)

    async with running(supervisor):
        await until(lambda: supervisor.status()[0].restarts >= 1)
        stalled = supervisor.status()[0]
        view.release.set()
        await until(lambda: runner.position == 40 and supervisor.status()[0].state == "running")

    assert stalled.last_error.startswith("stalled: no progress for 3")  # 30 s and a check or two
    assert stalled.last_error.endswith("s with 40 notifications behind")
    assert stalled.lag == 40 and vt.now >= 30
    assert applied(db) == 40


async def test_a_wake_after_a_save_beats_the_poll_interval(store, db):
    runner = ProjectionRunner(store, db, PositionsView(store), poll_interval=60)
    supervisor = Supervisor([runner])

    async with running(supervisor):
        await until(lambda: runner.position == 0)
        await asyncio.sleep(0.05)  # the runner is now waiting out its 60 s poll
        position = protected()
        store.save(position)
        supervisor.wake()
        await until(lambda: runner.position == 5, timeout=2)

    assert applied(db) == 5 and supervisor.status()[0].restarts == 0


async def test_saves_while_the_runner_follows_are_each_projected_once(store, db):
    runner = ProjectionRunner(store, db, PositionsView(store), batch_size=7, poll_interval=0.01)
    supervisor = Supervisor([runner])
    positions = marked(30, 3)

    async with running(supervisor):
        for position in positions:
            await asyncio.to_thread(store.save, position)  # the engine saves off the loop too
            supervisor.wake()
        await until(lambda: runner.position == 30 * 8)

    assert applied(db) == 30 * 8 and supervisor.status()[0].restarts == 0
    assert db.read("SELECT COUNT(*) FROM positions_view WHERE version = events_applied")[0][0] == 30
