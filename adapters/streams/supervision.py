"""Keeping a feed alive: backoff, the feed's health record and the supervisor loop.

A feed runs as a series of *sessions*. `supervise` starts one, and when it ends (it returned, it
raised, or nothing -- no frame, no heartbeat -- arrived for ``quiet_after`` seconds) it records why,
lets the feed drop whatever transport the session left behind, waits a capped, jittered backoff and
starts the next. Nothing a session does can end the feed: only cancelling `supervise` does.

`FeedHealth` is what ``/healthz`` and ``/metrics`` show of a feed: its state, how long ago it last
heard from the venue, how often it was restarted or reconnected, the last error and how many frames
it rejected. The feed updates it as things happen; readers never wait for a queue to drain.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn

from warden.adapters.streams.events import Connection


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``min(cap, base * 2**n)`` scaled by a factor in [0.5, 1)."""

    base: float = 0.5
    cap: float = 30.0
    rng: Callable[[], float] = random.random

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * 2 ** max(failures - 1, 0)) * (0.5 + self.rng() / 2)


class FeedHealth:
    """The live state of one feed, as the feed itself last saw it."""

    def __init__(self, feed: str, *, gating: bool = True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.feed = feed
        self.gating = gating  # a feed the engine depends on: while it is down, warden is not healthy
        self.monotonic = monotonic
        self.state = Connection.CONNECTING
        self.changed_at = monotonic()
        self.connected_at: float | None = None
        self.last_frame_at: float | None = None
        self.restarts = 0
        self.reconnects = 0
        self.last_error = ""
        self.rejected_frames = 0
        self.stale_frames = 0  # older than what the feed already handed over: dropped (not bad input)

    def heard(self) -> None:
        """A frame or a heartbeat arrived from the venue."""
        self.last_frame_at = self.monotonic()

    def set(self, state: Connection, reason: str = "") -> None:
        if state is not self.state:
            self.state, self.changed_at = state, self.monotonic()
        if state is Connection.CONNECTED:
            self.connected_at = self.changed_at
        if reason:
            self.last_error = reason

    @property
    def up(self) -> bool:
        return self.state is Connection.CONNECTED

    def quiet_for(self, since: float) -> float:
        """Seconds without a frame, counting from ``since`` at the earliest (a session's start)."""
        last = since if self.last_frame_at is None else max(self.last_frame_at, since)
        return self.monotonic() - last

    def report(self) -> dict[str, Any]:
        now = self.monotonic()
        age = None if self.last_frame_at is None else round(now - self.last_frame_at, 1)
        return {"state": self.state.value, "for_s": round(now - self.changed_at, 1),
                "last_frame_age_s": age, "restarts": self.restarts, "reconnects": self.reconnects,
                "last_error": self.last_error, "rejected_frames": self.rejected_frames,
                "stale_frames": self.stale_frames}


async def supervise(session: Callable[[], Coroutine[Any, Any, None]], health: FeedHealth, *,
                    quiet_after: float, backoff: Backoff,
                    restarted: Callable[[str], Awaitable[None]]) -> NoReturn:
    """Run ``session`` again and again until cancelled; ``restarted(reason)`` between two runs.

    The backoff grows while sessions fail before ever connecting and starts over after one that
    got connected, so a feed that drops once a day reconnects at once and one that cannot connect
    is retried at most every ``backoff.cap`` seconds.
    """
    failures = 0
    while True:
        started = health.monotonic()
        task = asyncio.create_task(session(), name=f"feed:{health.feed}")
        try:
            reason = await _ended(task, health, started, quiet_after)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        connected = health.connected_at is not None and health.connected_at >= started
        failures = 1 if connected else failures + 1
        health.restarts += 1
        await restarted(reason)
        await asyncio.sleep(backoff.delay(failures))


async def _ended(task: asyncio.Task[None], health: FeedHealth, started: float, quiet_after: float) -> str:
    """Why the session is over: it ended by itself, or it went quiet for too long."""
    check = min(1.0, quiet_after / 4)
    while True:
        done, _ = await asyncio.wait({task}, timeout=check)
        if done:
            if task.cancelled():
                return "session ended: cancelled inside"
            exc = task.exception()
            return "session ended" if exc is None else f"session ended: {type(exc).__name__}: {exc}"
        quiet = health.quiet_for(started)
        if quiet > quiet_after:
            return f"quiet: no frame or heartbeat for {quiet:.1f}s"
