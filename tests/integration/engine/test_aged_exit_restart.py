"""Crash and restart at every step of the aged exit's order: the restart settles the pending action
from what the venue holds, keeps the resting order (never places a second one, never amends or
cancels twice), and the exit goes on from there.

As in test_restart.py, a checkpoint raises `Crash` (a BaseException, like the process dying) at one
named step; the engine is dropped and a new one started on the same store and venue.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_aged_exit import CONFIG, exit_orders, writes
from tests.integration.engine.test_open_saga import venue_position
from tests.integration.engine.test_restart import Crash, crash_at
from warden.domain.lifecycle import Status
from warden.domain.values import CloseReason

VENUES = ["bybit", "binanceusdm"]


def steps(action: str) -> list[str]:
    return [f"exit-{action}-{when}" for when in ("requested", "sent", "recorded")]


async def crashed_engine(sim, make_engine, clock, venue: str, step: str, signal_id: str):
    """An aged long whose engine dies at ``step`` (the phase 1 order rests at 60300 first when the
    step is an amendment or a cancellation)."""
    engine = await make_engine(config=CONFIG, checkpoint=crash_at(step))
    outcome = await engine.submit(signal(signal_id, exchange=venue))
    await engine.idle()
    sim.control.set_price("BTCUSDT", "59800")
    clock.advance(3600)
    if "place" in step:
        with pytest.raises(Crash):
            await engine.tick()
        return outcome.position_id
    await engine.tick()
    clock.advance(600 if "amend" in step else 1200)  # phase 2 (59880), or the hard limit
    with pytest.raises(Crash):
        await engine.tick()
    return outcome.position_id


def resting(sim, venue: str) -> list[dict]:
    return [o for o in exit_orders(sim, venue) if o["status"] in ("new", "partially_filled")]


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("step", steps("place"))
async def test_a_crash_while_placing_ends_with_one_exit_order_resting(sim, make_engine, store, clock,
                                                                      venue, step):
    pid = await crashed_engine(sim, make_engine, clock, venue, step, f"crash-{step}")

    second = await make_engine(config=CONFIG)
    await second.tick()  # a tick after the restart asks for nothing new

    position = second.positions[pid]
    (order,) = resting(sim, venue)
    assert Decimal(order["price"]) == Decimal("60300") == position.exit_limit
    assert position.exit_intent is None and position.exit_order_id is not None
    assert len(writes(sim, venue, "create")) == 1 and len(exit_orders(sim, venue)) == 1
    names = [type(e).__name__ for e in store.history(pid)]
    assert names.count("ExitOrderRequested") == names.count("ExitOrderPlaced") == 1


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("step", steps("amend"))
async def test_a_crash_while_amending_ends_with_the_same_order_at_the_new_price(
        sim, make_engine, store, clock, venue, step):
    pid = await crashed_engine(sim, make_engine, clock, venue, step, f"crash-{step}")
    first_id = exit_orders(sim, venue)[0]["id"]

    second = await make_engine(config=CONFIG)
    await second.tick()

    position = second.positions[pid]
    (order,) = resting(sim, venue)
    assert order["id"] == first_id and Decimal(order["price"]) == Decimal("59880") == position.exit_limit
    assert position.exit_intent is None
    assert len(writes(sim, venue, "create")) == 1 and len(writes(sim, venue, "amend")) == 1
    assert not writes(sim, venue, "cancel")


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("step", steps("cancel"))
async def test_a_crash_while_cancelling_at_the_hard_limit_still_ends_at_market(
        sim, make_engine, store, clock, venue, step):
    pid = await crashed_engine(sim, make_engine, clock, venue, step, f"crash-{step}")

    second = await make_engine(config=CONFIG)
    await second.tick()  # the hard limit: the close at market follows

    position = store.repository.get(pid)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.AGED_EXIT
    assert venue_position(sim, venue) is None and not resting(sim, venue)
    assert len(writes(sim, venue, "cancel")) == 1 and len(writes(sim, venue, "create")) == 1
    names = [type(e).__name__ for e in store.history(pid)]
    assert names.count("ExitOrderCancelled") == 1


@pytest.mark.parametrize("venue", VENUES)
async def test_an_exit_order_that_filled_while_warden_was_down_closes_the_position(
        sim, make_engine, store, clock, venue):
    pid = await crashed_engine(sim, make_engine, clock, venue, "exit-place-recorded", "down")
    sim.control.set_price("BTCUSDT", "60400")  # the venue fills the resting order at 60300

    await make_engine(config=CONFIG)

    position = store.repository.get(pid)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.AGED_EXIT
    assert position.exit_price == Decimal("60300")
    assert [type(e).__name__ for e in store.history(pid)][-2:] == ["ExitOrderFilled", "PositionClosed"]
