"""The instance lock across a PostgreSQL restart: the active instance takes its lock again as soon
as the database answers, and of an active instance and a standby at most one trades afterwards.

The database is a throwaway cluster of this module's own (tests/pg.py `private_cluster`), stopped
with ``pg_ctl stop -m fast`` (every session cut, the advisory locks with them) and started again on
the same port: never the shared server the other tests use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests import pg
from tests.integration.engine.test_service import eventually
from warden.adapters.instance_lock import WATCH_S, InstanceLock

pytestmark = pytest.mark.postgres
ACCOUNTS = [("bybit", "main"), ("binanceusdm", "main")]
GRACE = 12 * WATCH_S  # a standby's grace in these tests: room for a loaded machine's slow checks


@pytest.fixture
def cluster(private_pg: pg.PgServer) -> pg.PgServer:
    return private_pg


@pytest.fixture
def url(cluster: pg.PgServer) -> Iterator[str]:
    with cluster.database("warden_lock") as url:
        yield url


def lock_holders(cluster: pg.PgServer, url: str) -> set[int]:
    """The backends holding advisory locks in the test's database (none while it is down)."""
    try:
        with cluster.admin() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database"
                " WHERE locktype = 'advisory' AND granted AND d.datname = %s",
                (url.rsplit("/", 1)[1],)).fetchall()
    except psycopg.OperationalError:  # the cluster is down
        return set()
    return {pid for (pid,) in rows}


async def restart(cluster: pg.PgServer, down_s: float = 1.0) -> None:
    await asyncio.to_thread(pg.pause, cluster)
    await asyncio.sleep(down_s)
    await asyncio.to_thread(pg.resume, cluster)


async def test_the_active_instance_takes_its_lock_again_after_a_database_restart(cluster, url):
    active = InstanceLock(url, ACCOUNTS)
    await active.acquire(standby=False, grace_s=0)
    lost: list[float] = []
    watching = asyncio.create_task(active.watch(lambda: lost.append(time.monotonic())))
    try:
        assert len(lock_holders(cluster, url)) == 1
        await restart(cluster)
        await eventually(lambda: len(lock_holders(cluster, url)) == 1, timeout=5)  # taken again
        second = InstanceLock(url, ACCOUNTS)
        assert not second.try_acquire()  # a second instance cannot take it now
        second.release()
        assert not lost and not watching.done()
    finally:
        watching.cancel()
        active.release()


async def test_after_a_restart_at_most_one_of_an_active_instance_and_a_standby_trades(cluster, url):
    """The standby polls far faster than the active instance watches, so it usually takes the lock
    first when the database is back: the active instance must then notice and stop before the
    standby's grace ends, and the standby trades only after that. When the active instance is
    first (it was in a loaded `make test`), the standby must still be waiting at the end."""
    active = InstanceLock(url, ACCOUNTS)
    await active.acquire(standby=False, grace_s=0)
    lost: list[float] = []
    watching = asyncio.create_task(active.watch(lambda: lost.append(time.monotonic())))
    standby = InstanceLock(url, ACCOUNTS)
    waiting = asyncio.create_task(standby.acquire(standby=True, poll_s=0.02, grace_s=GRACE))
    trading: list[float] = []
    waiting.add_done_callback(
        lambda t: trading.append(time.monotonic()) if not t.cancelled() and t.exception() is None else None)
    try:
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await restart(cluster)
        # either instance may take the locks first once the database answers
        deadline = time.monotonic() + 10
        while not (waiting.done() or lost or await asyncio.to_thread(lock_holders, cluster, url)):
            assert time.monotonic() < deadline, "neither instance took the locks within 10 s"
            await asyncio.sleep(0.05)
        await asyncio.sleep(GRACE + 1)  # past the standby's grace
        if lost:  # the standby won the race: the active instance stopped first
            assert waiting.done() and waiting.exception() is None
            assert trading and lost[0] < trading[0], (lost, trading)
            assert watching.done()
        else:  # the active instance took its lock again: the standby still waits
            assert not waiting.done()
        print(f"\n{'the standby took over' if lost else 'the active instance kept its lock'}")
    finally:
        watching.cancel()
        waiting.cancel()
        active.release()
        standby.release()


def try_acquire(lock: InstanceLock) -> bool:
    try:
        return lock.try_acquire()
    except psycopg.OperationalError:  # not up yet
        return False


async def test_a_standby_that_loses_the_lock_during_its_grace_does_not_trade(cluster, url):
    grace_s = 8.0  # longer than the restart below takes
    holder, standby = InstanceLock(url, ACCOUNTS), InstanceLock(url, ACCOUNTS)
    assert holder.try_acquire()  # the standby waits for it: the lock it then takes has a grace
    waiting = asyncio.create_task(standby.acquire(standby=True, poll_s=0.05, grace_s=grace_s))
    try:
        await asyncio.sleep(0.3)
        holder.release()
        await eventually(lambda: len(lock_holders(cluster, url)) == 1, timeout=5)  # taken, in its grace
        taken = time.monotonic()
        await asyncio.to_thread(pg.pause, cluster)  # its lock goes with the restart
        await asyncio.to_thread(pg.resume, cluster)
        other = InstanceLock(url, ACCOUNTS)
        await eventually(lambda: try_acquire(other), timeout=10)  # another instance gets it first
        assert time.monotonic() - taken < grace_s
        await asyncio.sleep(taken + grace_s + 1 - time.monotonic())
        assert not waiting.done()  # its grace is over: it is still a standby, never trading
        other.release()
        await asyncio.wait_for(waiting, grace_s + 5)  # and it takes over once the other is gone
    finally:
        waiting.cancel()
        standby.release()
        holder.release()


async def test_free_locks_on_a_database_up_for_long_are_taken_at_once_and_after_a_restart_with_a_grace(
        cluster, url):
    """A start needs no grace when the database has been up longer than it: an active instance
    that lost its lock in a restart would hold it again by then. Right after a restart it does."""
    grace_s = 3.0
    await restart(cluster, down_s=0.2)
    fresh = InstanceLock(url, ACCOUNTS)
    began = time.monotonic()
    await fresh.acquire(standby=False, grace_s=grace_s)  # the database is up for less than the grace
    waited = time.monotonic() - began
    fresh.release()
    assert 1.0 < waited <= grace_s + 1.0
    await asyncio.sleep(grace_s)  # now it has been up for longer
    began = time.monotonic()
    await fresh.acquire(standby=False, grace_s=grace_s)
    assert time.monotonic() - began < 1.0
    fresh.release()


async def test_the_watch_of_a_file_lock_does_nothing(tmp_path):
    lock = InstanceLock(f"sqlite:///{tmp_path}/w.sqlite3", ACCOUNTS)
    await lock.acquire(standby=False)
    lost: list[int] = []
    await asyncio.wait_for(lock.watch(lambda: lost.append(1), every_s=0.01), 1)  # returns at once
    assert not lost
    assert not InstanceLock(f"sqlite:///{tmp_path}/w.sqlite3", ACCOUNTS).try_acquire()  # still held
    lock.release()
