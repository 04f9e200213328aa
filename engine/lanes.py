"""Per-position serial execution: one position's slow exchange call never delays another's.

Each key (a position id) has a lane: a mailbox of one slot and, while there is work, one task
draining it. Work for a key runs one at a time, in order; lanes of different keys run
concurrently. A mark offered while the lane is busy replaces the one waiting in the slot: the
latest mark wins, and the one it replaced is counted as superseded (its price is not lost: the
caller folds every price into the position's best price when it offers it, see
`warden.engine.trailing`). ``wake`` asks for one more run without a new mark (a throttled move
whose wait is over); it never replaces a waiting mark.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger("warden.engine.lanes")

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")
_WAKE = object()  # the slot holds no mark, only "run once more"


class Lanes(Generic[K, M]):
    def __init__(self, run: Callable[[K, M | None], Awaitable[None]], name: str = "lane") -> None:
        self._run, self._name = run, name
        self._slots: dict[K, object] = {}
        self._workers: dict[K, asyncio.Task[None]] = {}
        self.acted = 0  # marks a lane ran with
        self.superseded = 0  # marks replaced in the slot by a later one before their lane got to them

    def offer(self, key: K, mark: M) -> None:
        """Queue ``mark`` for ``key``'s lane; a mark already waiting there is superseded."""
        waiting = self._slots.get(key, _WAKE)
        if waiting is not _WAKE:
            self.superseded += 1
        self._slots[key] = mark
        self._start(key)

    def wake(self, key: K) -> None:
        """Run ``key``'s lane once more (without a new mark) unless it has work waiting already."""
        self._slots.setdefault(key, _WAKE)
        self._start(key)

    def busy(self, key: K) -> bool:
        return key in self._workers

    @property
    def working(self) -> bool:
        return bool(self._workers)

    async def idle(self) -> None:
        """Until every lane has drained (work offered meanwhile included). A lane ended by what is
        not an `Exception` (a test's simulated crash at a checkpoint) re-raises it here."""
        while self._workers:
            ended = await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
            for outcome in ended:
                if isinstance(outcome, BaseException) and \
                        not isinstance(outcome, Exception | asyncio.CancelledError):
                    raise outcome

    async def stop(self) -> None:
        self._slots.clear()
        for worker in list(self._workers.values()):
            worker.cancel()
        await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    def _start(self, key: K) -> None:
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._drain(key), name=f"{self._name}:{key}")

    async def _drain(self, key: K) -> None:
        try:
            while key in self._slots:
                item = self._slots.pop(key)
                mark = None if item is _WAKE else item
                if mark is not None:
                    self.acted += 1
                try:
                    await self._run(key, mark)  # type: ignore[arg-type]
                except Exception:  # one position's failure must not stop its lane for good
                    log.exception("%s %s failed", self._name, key)
        finally:
            # no await between the last look at the slot and here: nothing offered is stranded
            self._workers.pop(key, None)
