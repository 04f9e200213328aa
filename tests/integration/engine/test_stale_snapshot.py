"""A positions snapshot is an answer of the moment it was asked, not of the moment it is read.

Soak seed 10618: the Binance private stream's resync asked for the positions while warden's entry
was on its way, and its answer (flat) was handed to the reconciler after the entry had filled and
its stop was placed. Taken for proof of a close, it swept the stop off the venue, recorded the
position `CLOSED_EXTERNALLY` (a price guess: the venue had no closing order to show), and the very
next push adopted the venue's position as a phantom; it was bare for 460 ms until the adoption's
stop was placed. A snapshot's "flat" is now confirmed by a fresh query before any stop is touched.
"""

from __future__ import annotations

import pytest

from tests.integration.engine.conftest import ACCOUNTS, signal
from tests.integration.engine.venue_state import events, held_stops
from warden.domain.lifecycle import Status
from warden.domain.values import CloseReason
from warden.engine.ports import StopMode

KINDS = [("bybit", StopMode.POSITION), ("binanceusdm", StopMode.CONDITIONAL)]


async def protected_short(engine, venue: str, name: str):
    outcome = await engine.submit(signal(name, exchange=venue, side="short"))
    await engine.idle()
    p = engine.positions[outcome.position_id]
    assert p.status is Status.PROTECTED
    return p


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=[v for v, _ in KINDS])
async def test_a_snapshot_asked_before_the_entry_never_takes_its_stop_away(
        sim, make_engine, store, venue, mode):
    account = ACCOUNTS[venue][0]
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(stop_mode=mode)
    asked_early = await engine.ctx.ports[venue, account].fetch_positions()  # a resync's: flat
    p = await protected_short(engine, venue, f"stale-{venue}")

    await engine.reconciler.apply_snapshot(venue, account, asked_early)  # read only now
    await engine.reconciler.settle()

    assert p.status is Status.PROTECTED and events(store, p.id, "PositionClosed") == []
    assert [s.price for s in held_stops(sim, venue)] == [p.stop_price]
    assert [e for e in store.all_events() if type(e).__name__ == "PhantomDetected"] == []
    assert sim.control.largest_naked(account, kind="move") is None  # not even for 0 ms


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=[v for v, _ in KINDS])
async def test_a_snapshot_that_shows_a_real_close_still_closes_the_position(
        sim, make_engine, store, venue, mode):
    account = ACCOUNTS[venue][0]
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(stop_mode=mode)
    p = await protected_short(engine, venue, f"real-{venue}")
    sim.control.close_position(account, "BTCUSDT")  # by hand: the venue is flat now

    await engine.reconciler.apply_snapshot(venue, account, [])

    assert p.status is Status.CLOSED and p.close_reason is CloseReason.MANUAL
    assert held_stops(sim, venue) == []
