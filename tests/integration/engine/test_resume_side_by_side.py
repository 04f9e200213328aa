"""A restart resumes its positions side by side: one position whose stop the venue is slow to put
back does not keep the others from being put back (a cold start with many positions waits for
the venue's round trips a few dozen at a time, not one by one; bench/engine.py P4 measures it).

A start verifies every stop from one listing of the account's stops (test_start_stop_listing.py);
only a position the listing shows without its stop costs requests of its own. So here both stops
were removed by hand, and the check is about order, not time: while the first position's stop
placement is held by the venue (a `hang` fault), the second position's placement reaches the
venue too, before the start ends."""

from __future__ import annotations

import asyncio

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_position_lanes import until
from warden.engine.ports import StopMode

PLACE_PATH = "/v5/position/trading-stop"  # where a Bybit position stop is put back


async def test_a_held_stop_placement_does_not_hold_up_the_other_positions(sim, make_engine):
    sim.control.set_price("BTCUSDT", "60000")
    sim.control.set_price("ETHUSDT", "3000")
    first = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION, request_timeout_s=10.0)
    symbols = (("BTCUSDT", "0.010"), ("ETHUSDT", "0.10"))
    for symbol, quantity in symbols:
        await first.submit(signal(f"resume-{symbol}", symbol=symbol, quantity=quantity))
    await first.idle()
    port = first.ctx.ports["bybit", "bybit"]
    for symbol, _ in symbols:  # both stops removed by hand
        await port.client.private_post_v5_position_trading_stop(
            {"category": "linear", "symbol": symbol, "stopLoss": "0", "positionIdx": 0})
    await first.stop()
    placed_before = len(sim.control.requests("bybit", PLACE_PATH))

    sim.control.inject("hang", venue="bybit", path=PLACE_PATH, seconds=5, times=1)
    second = await make_engine(venues=("bybit",), stop_mode=StopMode.POSITION, request_timeout_s=10.0,
                               start=False)
    starting = asyncio.create_task(second.start())
    await until(lambda: not sim.control.faults(), "the first stop placement is held by the venue")
    await until(lambda: len(sim.control.requests("bybit", PLACE_PATH)) >= placed_before + 2,
                "the other position's stop placement reached the venue", timeout=4.0)
    assert not starting.done()  # the held placement is still being waited for
    await asyncio.wait_for(starting, 15)
    assert second.ready and len(second.positions) == 2
    stops = await second.ctx.ports["bybit", "bybit"].fetch_stops()
    assert sorted(s.symbol for s in stops) == ["BTCUSDT", "ETHUSDT"]  # both put back
