"""Trailing stops through scripted price paths and throttling under a burst (the aged exit:
test_aged_exit.py)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.test_open_saga import venue_position
from warden.domain.lifecycle import Status
from warden.domain.policies import TrailingStopPolicy

LONG_PATH = ["60300", "60700", "61000", "61500", "61200", "61800", "61600"]
SHORT_PATH = ["59700", "59300", "59000", "58600", "58850", "58400", "58600"]


def stops_sent(sim, venue: str) -> list[Decimal]:
    """Every stop price the exchange received, in order."""
    if venue == "bybit":
        return [Decimal(r["params"]["stopLoss"]) for r in sim.control.requests("bybit", "trading-stop")
                if r["method"] == "POST" and r["params"].get("stopLoss") not in (None, "0")]
    return [Decimal(r["params"]["triggerPrice"]) for r in sim.control.requests("binance", "algoOrder")
            if r["method"] == "POST" and "triggerPrice" in r["params"]]


async def walk(engine, sim, venue: str, prices: list[str], *, settle: bool = True) -> None:
    """Each price to the venue and the engine; with ``settle`` each one's decision runs before
    the next (without, they come as fast as the engine takes them: a burst)."""
    for price in prices:
        sim.control.set_price("BTCUSDT", price)
        await engine.on_mark(venue, "BTCUSDT", Decimal(price), at=engine.ctx.now())
        if settle:
            await engine.idle()


@pytest.mark.parametrize(("venue", "side", "path"), [("bybit", "long", LONG_PATH),
                                                    ("binanceusdm", "short", SHORT_PATH)])
async def test_the_stop_trails_the_best_price_and_only_in_the_positions_favour(
        sim, make_engine, store, venue, side, path):
    engine = await make_engine()
    outcome = await engine.submit(signal(f"trail-{side}", exchange=venue, side=side))
    await engine.idle()

    await walk(engine, sim, venue, path)

    position = store.repository.get(outcome.position_id)
    moved = [e.new_price for e in store.history(position.id) if type(e).__name__ == "StopLossMoved"]
    sent = stops_sent(sim, venue)
    sign = 1 if side == "long" else -1
    best = max(map(Decimal, path)) if side == "long" else min(map(Decimal, path))
    assert position.status is Status.TRAILING and venue_position(sim, venue) is not None
    assert moved and sent[-len(moved):] == moved  # every recorded move is what the exchange got
    assert all(sign * (b - a) > 0 for a, b in itertools.pairwise(sent))  # strictly ratchets
    assert position.stop_price == engine.ctx.config.trailing.target(position.side, best, position.instrument)


async def test_a_burst_of_updates_is_throttled_and_coalesced_to_the_latest_target(sim, make_engine, store):
    config = replace(FAST, trailing=TrailingStopPolicy(Decimal("1"), Decimal("0.5"), min_step_ticks=1,
                                                       min_interval_seconds=Decimal("0.3")))
    engine = await make_engine(config=config)
    outcome = await engine.submit(signal("burst"))
    await engine.idle()
    burst = [str(60600 + 10 * k) for k in range(40)]

    await walk(engine, sim, "bybit", burst, settle=False)
    await asyncio.sleep(0.8)  # let the coalesced move run
    await engine.idle()

    position = store.repository.get(outcome.position_id)
    lanes = engine.trailing.lanes
    assert lanes.acted + lanes.superseded == 40  # every update is acted on or consciously superseded
    assert len(stops_sent(sim, "bybit")) <= 4  # ... but the exchange is not spammed
    target = config.trailing.target(position.side, Decimal(burst[-1]), position.instrument)
    assert position.stop_price == target  # the latest target won
    assert engine.trailing.decision_latencies() and max(engine.trailing.decision_latencies()) < 0.05
