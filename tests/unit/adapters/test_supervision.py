"""The feed supervisor: sessions that end or go quiet are restarted, with a backoff that grows only
while sessions keep failing before they connect, and is capped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from warden.adapters.streams.events import Connection
from warden.adapters.streams.supervision import Backoff, FeedHealth, supervise


@dataclass
class RecordingBackoff(Backoff):
    asked: list[int] = field(default_factory=list)

    def delay(self, failures: int) -> float:
        self.asked.append(failures)
        return 0.001


async def supervised(session, health: FeedHealth, restarts: int, *, quiet_after: float = 5.0,
                     backoff: Backoff | None = None) -> list[str]:
    """Run ``session`` under `supervise` until it was restarted ``restarts`` times; the reasons."""
    reasons: list[str] = []
    enough = asyncio.Event()

    async def restarted(reason: str) -> None:
        reasons.append(reason)
        if len(reasons) == restarts:
            enough.set()

    runner = asyncio.create_task(supervise(session, health, quiet_after=quiet_after,
                                           backoff=backoff or RecordingBackoff(), restarted=restarted))
    try:
        await asyncio.wait_for(enough.wait(), 5)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    return reasons


async def test_a_session_that_raises_or_returns_is_started_again_with_its_reason() -> None:
    health = FeedHealth("test")
    runs = iter([ConnectionResetError("peer went away"), None, ValueError("bad frame")])

    async def session() -> None:
        health.heard()
        outcome = next(runs)
        if outcome is not None:
            raise outcome

    reasons = await supervised(session, health, 3)
    assert reasons == ["session ended: ConnectionResetError: peer went away", "session ended",
                       "session ended: ValueError: bad frame"]
    assert health.restarts == 3


async def test_backoff_grows_while_sessions_fail_and_starts_over_after_one_connected() -> None:
    health = FeedHealth("test")
    backoff = RecordingBackoff()
    connects = iter([False, False, False, True, False, False])

    async def session() -> None:
        if next(connects):
            health.set(Connection.CONNECTED)
        raise OSError("down")

    await supervised(session, health, 6, backoff=backoff)
    assert backoff.asked == [1, 2, 3, 1, 2, 3]


async def test_a_session_that_hears_nothing_is_restarted_as_quiet() -> None:
    health = FeedHealth("test")

    async def session() -> None:
        health.set(Connection.CONNECTED)
        await asyncio.Event().wait()  # connected, then never a frame

    [reason] = await supervised(session, health, 1, quiet_after=0.2)
    assert reason.startswith("quiet: no frame or heartbeat for 0.2")


async def test_a_session_that_keeps_hearing_heartbeats_is_left_alone() -> None:
    health = FeedHealth("test")

    async def session() -> None:
        while True:
            health.heard()
            await asyncio.sleep(0.05)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(supervised(session, health, 1, quiet_after=0.2), 1.0)
    assert health.restarts == 0
