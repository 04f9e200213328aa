"""Crash and restart at every step of the open saga: nothing lost, nothing sent twice.

A checkpoint hook raises `Crash` (a BaseException, like the process dying) at one named step; the
engine object is dropped with everything it held in memory, and a new engine is started on the
same store and the same exchange. Every case must end protected, with exactly one entry order.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.lifecycle import Status
from tests.integration.engine.conftest import ACCOUNTS, signal

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
