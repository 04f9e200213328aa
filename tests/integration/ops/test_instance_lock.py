"""Only one active instance per account; a standby takes over when the active one goes away."""

from __future__ import annotations

import asyncio

import pytest

from warden.adapters.instance_lock import InstanceLock, LockHeld

ACCOUNTS = [("bybit", "main"), ("binanceusdm", "main")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/w.sqlite3"
    return request.getfixturevalue("pg_url")


async def test_a_second_instance_exits_with_a_clear_message(url):
    active = InstanceLock(url, ACCOUNTS)
    await active.acquire(standby=False, grace_s=0)
    try:
        with pytest.raises(LockHeld, match="another warden instance is active for binanceusdm/main"):
            await InstanceLock(url, ACCOUNTS).acquire(standby=False)
    finally:
        active.release()


async def test_a_standby_takes_over_when_the_active_instance_stops(url):
    active = InstanceLock(url, ACCOUNTS)
    await active.acquire(standby=False, grace_s=0)
    standby = InstanceLock(url, ACCOUNTS)
    waiting = asyncio.create_task(standby.acquire(standby=True, poll_s=0.05, grace_s=0.2))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # it never trades at the same time

    active.release()  # the active process died: its connection or file lock is gone
    await asyncio.wait_for(waiting, 2)
    standby.release()


async def test_locks_are_per_account(url):
    bybit = InstanceLock(url, [ACCOUNTS[0]])
    binance = InstanceLock(url, [ACCOUNTS[1]])
    assert bybit.try_acquire() and binance.try_acquire()
    bybit.release()
    binance.release()
