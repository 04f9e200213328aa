"""Judged by the simulator's own stop-coverage record: no move ever leaves a position without a
stop on the venue, and an entry is protected within the stated bound, on both venues, whatever
fails on the way (lost answers, timeouts, refusals, a venue that cannot be asked, a crash).

The record (`sim/coverage.py`) is kept by the venue itself, independent of warden: for every
position, from the fill that opens it to the fill that closes it, each interval with no stop on
the venue. A gap is recorded even when it lasts 0 ms, so "no move gap" means none at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import ACCOUNTS, FAST, signal
from tests.integration.engine.test_stop_safety import (
    CANCEL_PATH,
    HANG_S,
    LIST_PATH,
    PLACE_PATH,
    SIM_VENUE,
    STOP_KINDS,
    TIMEOUT_S,
    ids,
    mark,
)
from tests.integration.engine.venue_state import events, held_stops
from warden.domain.lifecycle import Status
from warden.domain.values import CloseReason
from warden.engine.context import entry_exposure_bound_s
from warden.engine.ports import StopMode

CHECKING = replace(FAST, reconcile_interval_s=0)  # every tick reconciles and checks the stops


def faults(sim, venue: str, mode: StopMode) -> list[tuple[str, callable]]:
    """What goes wrong before each move: (name, inject)."""
    v, place = SIM_VENUE[venue], PLACE_PATH[venue, mode]
    listing = "/v5/position/list" if mode is StopMode.POSITION else LIST_PATH[venue]
    steps = [
        ("nothing", lambda: None),
        ("the new stop's answer is lost", lambda: sim.control.inject(
            "hang", venue=v, path=place, seconds=HANG_S, after=True, times=1)),
        ("the new stop is refused", lambda: sim.control.inject("reject_stop", venue=v, times=1)),
        # held past the client's timeout, then processed: warden asked too early to see it
        ("the request times out and is processed late", lambda: sim.control.inject(
            "hang", venue=v, path=place, seconds=HANG_S, times=1)),
        ("lost, and the venue cannot be asked", lambda: (
            sim.control.inject("hang", venue=v, path=place, seconds=HANG_S, after=True, times=1),
            sim.control.inject("http_error", venue=v, path=listing, status=503, times=3))),
        ("rate limited", lambda: sim.control.inject("rate_limit", venue=v, path=place, times=1)),
    ]
    if venue == "bybit" and mode is StopMode.CONDITIONAL:  # Binance cancels on the placing path
        steps.append(("the old stop's cancel times out", lambda: sim.control.inject(
            "hang", venue=v, path=CANCEL_PATH[venue], seconds=HANG_S, times=1)))
    return steps


@pytest.mark.parametrize(("venue", "mode"), STOP_KINDS, ids=ids(STOP_KINDS))
async def test_no_move_ever_leaves_the_position_without_a_stop(sim, make_engine, store, venue, mode):
    account = ACCOUNTS[venue][0]
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(config=CHECKING, stop_mode=mode, request_timeout_s=TIMEOUT_S)
    outcome = await engine.submit(signal(f"cover-{venue}", exchange=venue))
    await engine.idle()
    p = engine.positions[outcome.position_id]
    price, steps = Decimal("60700"), faults(sim, venue, mode)
    for _name, inject in steps:
        inject()
        await mark(engine, sim, venue, str(price))
        sim.control.clear_faults()
        await engine.tick()  # settles what was left pending, sweeps a leftover stop
        await mark(engine, sim, venue, str(price + 300))  # and the next move goes through
        price += 600
    await asyncio.sleep(HANG_S)  # requests the venue held past their timeout are processed now
    await engine.tick()
    await mark(engine, sim, venue, str(price))
    assert len(events(store, p.id, "StopLossMoved")) >= len(steps) and p.pending_intent is None
    assert [s.price for s in held_stops(sim, venue)] == [p.stop_price]
    sim.control.set_price("BTCUSDT", str(p.stop_price - 50))  # the trailing stop closes it
    await engine.tick()

    assert p.status is Status.CLOSED and p.close_reason is CloseReason.TRAILING_STOP_HIT
    [life] = sim.control.coverage(account, "BTCUSDT")
    assert life["closed_ms"] is not None and life["covered"]
    assert sim.control.largest_naked(account, kind="move") is None  # not even for 0 ms
    assert [g["kind"] for g in life["gaps"]] == ["entry"]


@pytest.mark.parametrize(("venue", "mode"), STOP_KINDS, ids=ids(STOP_KINDS))
async def test_a_crash_between_a_move_and_its_record_leaves_one_stop_and_no_gap(
        sim, make_engine, store, venue, mode):
    class Crash(BaseException):
        pass

    def crash(name: str) -> None:
        if name == "stop-replaced":
            raise Crash(name)

    account = ACCOUNTS[venue][0]
    sim.control.set_price("BTCUSDT", "60000")
    first = await make_engine(config=CHECKING, stop_mode=mode, checkpoint=crash)
    outcome = await first.submit(signal(f"crash-move-{venue}", exchange=venue))
    await first.idle()
    with pytest.raises(Crash):
        await mark(first, sim, venue, "60700")  # moved on the venue; the engine dies unrecorded

    second = await make_engine(config=CHECKING, stop_mode=mode)  # restart: asks the venue

    p = second.positions[outcome.position_id]
    target = FAST.trailing.target(p.side, Decimal("60700"), p.instrument)
    assert p.pending_intent is None and p.stop_price == target
    assert [s.price for s in held_stops(sim, venue)] == [target]
    assert sim.control.largest_naked(account, kind="move") is None


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_an_entry_is_protected_within_the_stated_bound_even_in_the_seed_incident(
        sim, make_engine, store, venue):
    account = ACCOUNTS[venue][0]
    engine = await make_engine()
    await engine.submit(signal(f"plain-{venue}", exchange=venue, symbol="ETHUSDT", quantity="1"))
    await engine.idle()
    plain = sim.control.largest_naked(account, kind="entry", symbol="ETHUSDT")
    # the seed incident: the order query shows no price for a second, the first stop is refused
    sim.control.inject("stale_fill", venue=SIM_VENUE[venue], seconds=1.0)
    sim.control.inject("reject_stop", venue=SIM_VENUE[venue], times=1,
                       code=10001 if venue == "bybit" else -1111)
    outcome = await engine.submit(signal(f"seed-{venue}", exchange=venue))
    await engine.idle()

    assert engine.positions[outcome.position_id].status is Status.PROTECTED
    seed = sim.control.largest_naked(account, kind="entry", symbol="BTCUSDT")
    bound_ms = entry_exposure_bound_s(FAST, 2.0) * 1000  # the fixture's default request timeout
    assert plain is not None and seed is not None  # an entry is bare from its fill to its stop
    assert plain["duration_ms"] <= bound_ms and seed["duration_ms"] <= bound_ms
    assert sim.control.largest_naked(account, kind="move") is None
    print(f"\n{venue}: entry exposure {plain['duration_ms']} ms plain, {seed['duration_ms']} ms in "
          f"the seed incident, bound {bound_ms:.0f} ms")
