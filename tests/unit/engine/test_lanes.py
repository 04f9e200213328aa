"""Per-position lanes: serial for one key, concurrent across keys, the latest mark wins."""

from __future__ import annotations

import asyncio

from warden.engine.lanes import Lanes


class Recorder:
    """Runs each key's work until its gate opens; remembers what ran and in which order."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, object]] = []
        self.running: dict[str, int] = {}
        self.most_at_once: dict[str, int] = {}
        self.gates: dict[str, asyncio.Event] = {}

    async def __call__(self, key: str, mark: object) -> None:
        self.running[key] = self.running.get(key, 0) + 1
        self.most_at_once[key] = max(self.most_at_once.get(key, 0), self.running[key])
        self.ran.append((key, mark))
        await self.gates.setdefault(key, asyncio.Event()).wait()
        self.running[key] -= 1


async def test_a_held_lane_does_not_hold_another_and_the_latest_mark_wins():
    work = Recorder()
    work.gates["b"] = asyncio.Event()
    work.gates["b"].set()
    lanes: Lanes[str, int] = Lanes(work)

    lanes.offer("a", 1)
    await asyncio.sleep(0)  # a's first mark is running (held at its gate)
    for mark in (2, 3, 4):
        lanes.offer("a", mark)
    lanes.offer("b", 10)
    await asyncio.sleep(0.01)

    assert ("b", 10) in work.ran and lanes.busy("a") and not lanes.busy("b")
    assert lanes.superseded == 2  # 2 and 3 were replaced while a was busy
    work.gates["a"].set()
    await lanes.idle()
    assert [m for k, m in work.ran if k == "a"] == [1, 4]
    assert work.most_at_once["a"] == 1  # one at a time
    assert (lanes.acted, lanes.superseded) == (3, 2)


async def test_a_wake_runs_the_lane_once_more_without_replacing_a_waiting_mark():
    work = Recorder()
    work.gates["a"] = asyncio.Event()
    work.gates["a"].set()
    lanes: Lanes[str, int] = Lanes(work)

    lanes.wake("a")
    await lanes.idle()
    lanes.offer("a", 7)
    lanes.wake("a")  # a mark waits: the wake adds nothing
    await lanes.idle()

    assert work.ran == [("a", None), ("a", 7)] and lanes.superseded == 0


async def test_a_failure_is_logged_and_the_lane_goes_on(caplog):
    seen: list[int] = []

    async def run(key: str, mark: int | None) -> None:
        seen.append(mark)
        if mark == 1:
            raise RuntimeError("venue answered nonsense")

    lanes: Lanes[str, int] = Lanes(run)
    lanes.offer("a", 1)
    await lanes.idle()
    lanes.offer("a", 2)
    await lanes.idle()
    assert seen == [1, 2] and "venue answered nonsense" in caplog.text
