"""The supervisor: keeps projection runners alive and says how they are doing.

Each runner runs as an asyncio task. A runner that raises, or stalls (its position does not move
while the log is ahead of it for longer than ``stall_timeout``), is cancelled and restarted after
an exponential backoff, reset once a run makes progress. `status()` reports, per runner, its state,
position, lag, restarts and last error, for health checks. The clock and the sleep are injected so
tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from warden.projections.runner import ProjectionRunner

log = logging.getLogger(__name__)


@dataclass
class RunnerStatus:
    name: str
    state: str = "starting"  # starting | running | backoff | stopped
    position: int = 0
    head: int = 0
    lag: int = 0
    restarts: int = 0
    last_error: str | None = None
    last_progress_at: float | None = None  # the injected clock's reading


class Supervisor:
    def __init__(self, runners: Sequence[ProjectionRunner], *, stall_timeout: float = 60.0,
                 check_interval: float = 1.0, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        names = [r.name for r in runners]
        if len(set(names)) != len(names):
            raise ValueError(f"runner names must be unique, got {names}")
        self.runners = list(runners)
        self.stall_timeout, self.check_interval = stall_timeout, check_interval
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self._clock, self._sleep = clock, sleep
        self._status = {r.name: RunnerStatus(r.name) for r in runners}

    def status(self) -> list[RunnerStatus]:
        """A snapshot per runner, position and lag as of the last check."""
        for runner in self.runners:
            s = self._status[runner.name]
            s.position, s.head, s.lag = runner.position or 0, runner.head, runner.lag
        return [RunnerStatus(**vars(s)) for s in self._status.values()]

    def wake(self) -> None:
        """The engine's hook after each save: every runner looks at the log now."""
        for runner in self.runners:
            runner.wake()

    async def run(self) -> None:
        """Supervise every runner until cancelled."""
        tasks = [asyncio.create_task(self._supervise(r), name=f"supervise:{r.name}")
                 for r in self.runners]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in self._status.values():
                s.state = "stopped"

    async def _supervise(self, runner: ProjectionRunner) -> None:
        status = self._status[runner.name]
        delay = self.backoff_initial
        while True:
            status.state = "running"
            task = asyncio.create_task(runner.run(), name=f"projection:{runner.name}")
            try:
                problem, progressed = await self._watch(runner, status, task)
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            status.restarts += 1
            status.last_error = problem
            status.state = "backoff"
            delay = self.backoff_initial if progressed else delay
            log.warning("projection %s restarting in %.1fs (restart %d): %s",
                        runner.name, delay, status.restarts, problem)
            await self._sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _watch(self, runner: ProjectionRunner, status: RunnerStatus,
                     task: asyncio.Task[None]) -> tuple[str, bool]:
        """Wait until the run fails or stalls; what went wrong and whether it made progress."""
        last_position, since, progressed = runner.position, self._clock(), False
        while True:
            tick = asyncio.ensure_future(self._sleep(self.check_interval))
            await asyncio.wait({task, tick}, return_when=asyncio.FIRST_COMPLETED)
            tick.cancel()
            if task.done():
                error = task.exception()
                return (f"{type(error).__name__}: {error}" if error else "exited"), progressed
            now = self._clock()
            if runner.position != last_position:
                progressed = progressed or last_position is not None
                last_position, since, status.last_progress_at = runner.position, now, now
                continue
            if not runner.store.available:  # a store outage is not the runner's stall
                since = now
                continue
            try:
                await asyncio.to_thread(runner.refresh_head)
            except Exception as e:  # the store is unreachable: the runner will say so itself
                log.debug("projection %s: head unknown: %s", runner.name, e)
            if runner.lag == 0:
                since = now  # idle and up to date is not a stall
            elif now - since > self.stall_timeout:
                return (f"stalled: no progress for {now - since:.0f}s with {runner.lag} "
                        f"notifications behind"), progressed
