"""Crash and restart at every step of the open saga: nothing lost, nothing sent twice.

A checkpoint hook raises `Crash` (a BaseException, like the process dying) at one named step; the
engine object is dropped with everything it held in memory, and a new engine is started on the
same store and the same exchange. Every case must end protected, with exactly one entry order.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.engine.conftest import ACCOUNTS, signal
from warden.domain.lifecycle import Status

STEPS = ["entry-requested", "entry-sent", "entry-recorded", "fill-recorded", "stop-requested",
         "stop-sent", "stop-recorded"]


class Crash(BaseException):
    pass


def crash_at(step: str):
    def checkpoint(name: str) -> None:
        if name == step:
            raise Crash(step)
    return checkpoint


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
@pytest.mark.parametrize("step", STEPS)
async def test_a_crash_at_any_step_ends_protected_with_one_entry_order(sim, make_engine, store, venue, step):
    first = await make_engine(checkpoint=crash_at(step))
    outcome = await first.submit(signal(f"crash-{step}", exchange=venue))
    await first.idle()  # the saga task died with Crash at `step`
    assert store.repository.get(outcome.position_id).status is not Status.PROTECTED or \
        step == "stop-recorded"

    second = await make_engine()  # restart: rebuild, reconcile, resume intents
    position = second.positions[outcome.position_id]

    assert position.status is Status.PROTECTED
    account = ACCOUNTS[venue][0]
    state = sim.control.state(account)
    entries = [o for o in state["orders"] if o["client_id"] == position.entry_client_order_id]
    assert len(entries) == 1
    assert len([p for p in state["positions"] if p["symbol"] == "BTCUSDT"]) == 1
    assert not [e for e in store.all_events() if type(e).__name__ == "PhantomDetected"]
    stops = [o for o in state["stops"] if o["symbol"] == "BTCUSDT"]
    on_position = state["positions"][0]["stop_loss"]
    prices = {Decimal(o["trigger_price"]) for o in stops} | ({Decimal(on_position)} if on_position else set())
    assert prices == {position.stop_price}  # one stop protects it, at the recorded price
    assert len(stops) == 1


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_a_restart_puts_back_a_stop_that_vanished_from_the_exchange(sim, make_engine, store, venue):
    from warden.domain.reports import StopReport
    from warden.engine.ports import StopMode

    first = await make_engine()
    outcome = await first.submit(signal(f"vanished-{venue}", exchange=venue))
    await first.idle()
    position = store.repository.get(outcome.position_id)
    port = first.ctx.ports[venue, ACCOUNTS[venue][0]]
    if venue == "bybit" and port.stop_mode is StopMode.POSITION:
        await port.client.private_post_v5_position_trading_stop(  # the stop is removed by hand
            {"category": "linear", "symbol": "BTCUSDT", "stopLoss": "0", "positionIdx": 0})
    else:
        await port.cancel_stop(StopReport(venue, "BTCUSDT", position.side, position.stop_price,
                                          position.stop_order_id))
    assert not await port.fetch_stops("BTCUSDT")

    second = await make_engine()

    restored = second.positions[outcome.position_id]
    stops = await second.ctx.ports[venue, ACCOUNTS[venue][0]].fetch_stops("BTCUSDT")
    assert [s.stop_price for s in stops] == [position.stop_price]
    assert [type(e).__name__ for e in store.history(restored.id)][-2:] == ["StopLossRequested",
                                                                           "StopLossPlaced"]
