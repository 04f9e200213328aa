"""A restart resumes its positions side by side: one position whose stop query the venue holds
does not keep the others from being checked (a cold start with many positions waits for the
venue's round trips a few dozen at a time, not one by one; bench/engine.py P4 measures it).

The check is about order, not time: while the first position's stop query is held by the venue
(a `hang` fault), the second position's query reaches the venue too, before the start ends."""

from __future__ import annotations

import asyncio

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_position_lanes import until
from warden.engine.ports import StopMode

STOPS_PATH = "/v5/order/realtime"  # the first request of a Bybit position's stop check


async def test_a_held_stop_check_does_not_hold_up_the_other_positions(sim, make_engine):
    sim.control.set_price("BTCUSDT", "60000")
    sim.control.set_price("ETHUSDT", "3000")
    first = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION, request_timeout_s=10.0)
    for symbol, quantity in (("BTCUSDT", "0.010"), ("ETHUSDT", "0.10")):
        await first.submit(signal(f"resume-{symbol}", symbol=symbol, quantity=quantity))
    await first.idle()
    await first.stop()
    asked_before = len(sim.control.requests("bybit", STOPS_PATH))

    sim.control.inject("hang", venue="bybit", path=STOPS_PATH, seconds=5, times=1)
    second = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION, request_timeout_s=10.0,
                               start=False)
    starting = asyncio.create_task(second.start())
    await until(lambda: not sim.control.faults(), "the first stop check is held by the venue")
    await until(lambda: len(sim.control.requests("bybit", STOPS_PATH)) >= asked_before + 2,
                "the other position's stop check reached the venue", timeout=4.0)
    assert not starting.done()  # the held check is still being waited for
    await asyncio.wait_for(starting, 15)
    assert second.ready and len(second.positions) == 2
