"""One venue position, one warden position: a second signal on a symbol is refused, or scales in.

In one-way mode the venue nets every order on a symbol into one position; two warden positions
on it would both own its stop and move it independently.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.venue_state import events, held_stops, position_qty
from warden.domain.intake import SignalBook
from warden.domain.lifecycle import Status
from warden.domain.values import StopPurpose
from warden.engine.ports import StopMode

SCALE_IN = replace(FAST, scale_in=True)
KINDS = [("bybit", StopMode.POSITION), ("bybit", StopMode.CONDITIONAL),
         ("binanceusdm", StopMode.CONDITIONAL)]


def refusals(store) -> list:
    return [e for e in store.all_events() if isinstance(e, SignalBook.SignalRejected)]


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_a_second_signal_on_an_open_symbol_is_refused_with_the_reason(sim, make_engine, store,
                                                                            venue):
    engine = await make_engine()
    first = await engine.submit(signal(f"one-{venue}", exchange=venue))
    await engine.idle()

    second = await engine.submit(signal(f"two-{venue}", exchange=venue, quantity="0.020"))
    await engine.idle()

    assert second.status == "rejected" and str(first.position_id) in second.reason
    assert "one position per symbol" in second.reason
    [refused] = refusals(store)
    assert refused.signal_id == f"two-{venue}" and refused.reason == second.reason
    assert position_qty(sim, venue) == Decimal("0.010")  # nothing was sent for it
    assert list(engine.positions) == [first.position_id]


@pytest.mark.parametrize("scale_in", [False, True])
async def test_an_opposite_signal_is_refused_even_with_scale_in(sim, make_engine, store, scale_in):
    engine = await make_engine(config=replace(FAST, scale_in=scale_in))
    await engine.submit(signal("long", exchange="binanceusdm"))
    await engine.idle()

    outcome = await engine.submit(signal("short", exchange="binanceusdm", side="short"))

    assert outcome.status == "rejected" and "would net against it" in outcome.reason
    assert position_qty(sim, "binanceusdm") == Decimal("0.010")


@pytest.mark.parametrize(("venue", "mode"), KINDS, ids=[f"{v}-{m.value}" for v, m in KINDS])
async def test_scale_in_adds_to_the_position_and_resizes_its_one_stop(sim, make_engine, store,
                                                                      venue, mode):
    sim.control.set_price("BTCUSDT", "60000")
    engine = await make_engine(config=SCALE_IN, stop_mode=mode)
    first = await engine.submit(signal(f"base-{venue}", exchange=venue))
    await engine.idle()
    p = engine.positions[first.position_id]
    stop = p.stop_price
    sim.control.set_price("BTCUSDT", "60600")

    added = await engine.submit(signal(f"add-{venue}", exchange=venue, quantity="0.020"))
    await engine.idle()

    assert added.status == "accepted" and added.position_id == p.id
    assert p.quantity == p.filled_qty == Decimal("0.030") == position_qty(sim, venue)
    assert p.entry_price == (Decimal("60000") * Decimal("0.010") + Decimal("60600") * Decimal("0.020")) \
        / Decimal("0.030")  # the VWAP, as the venue averages it
    [filled] = events(store, p.id, "ScaleInFilled")
    assert (filled.signal_id, filled.price, filled.quantity) == (f"add-{venue}", Decimal("60600"),
                                                                 Decimal("0.020"))
    [held] = held_stops(sim, venue)  # still one stop, at the same price, for the whole size
    assert (held.price, held.qty) == (stop, Decimal("0.030")) and p.stop_price == stop
    resized = [e for e in events(store, p.id, "StopLossRequested") if e.purpose is StopPurpose.RESIZE]
    assert len(resized) == (0 if mode is StopMode.POSITION else 1)  # a position stop stays
    assert p.status is Status.PROTECTED and len(engine.positions) == 1


async def test_a_repeated_scale_in_signal_is_a_duplicate(sim, make_engine, store):
    engine = await make_engine(config=SCALE_IN)
    await engine.submit(signal("base", exchange="binanceusdm"))
    await engine.idle()
    await engine.submit(signal("add", exchange="binanceusdm"))
    await engine.idle()

    again = await engine.submit(signal("add", exchange="binanceusdm"))
    await engine.idle()

    assert again.status == "duplicate" and position_qty(sim, "binanceusdm") == Decimal("0.020")


async def test_a_refused_scale_in_leaves_the_position_as_it_was(sim, make_engine, store):
    engine = await make_engine(config=SCALE_IN)
    first = await engine.submit(signal("base", exchange="binanceusdm"))
    await engine.idle()
    p = engine.positions[first.position_id]
    before = (p.quantity, p.entry_price, p.stop_price)
    sim.control.set_balance("binance", "1")  # no margin for more

    await engine.submit(signal("add", exchange="binanceusdm", quantity="0.100"))
    await engine.idle()

    [rejected] = events(store, p.id, "ScaleInRejected")
    assert rejected.code == "-2019" and (p.quantity, p.entry_price, p.stop_price) == before
    assert p.pending_intent is None and position_qty(sim, "binanceusdm") == Decimal("0.010")


async def test_a_scale_in_interrupted_by_a_restart_is_finished_once(sim, make_engine, store):
    class Crash(BaseException):
        pass

    def crash_after_the_intent(name: str) -> None:
        if name == "scale-in-requested":
            raise Crash(name)

    first = await make_engine(config=SCALE_IN, checkpoint=crash_after_the_intent)
    base = await first.submit(signal("base", exchange="binanceusdm"))
    await first.idle()
    await first.submit(signal("add", exchange="binanceusdm"))
    await first.idle()  # died with its intent recorded, the order maybe not sent

    second = await make_engine(config=SCALE_IN)

    p = second.positions[base.position_id]
    assert p.filled_qty == Decimal("0.020") == position_qty(sim, "binanceusdm")
    adds = [o for o in sim.control.state("binance")["orders"] if o["client_id"].startswith(
        p.client_id_prefix + "add")]
    assert len(adds) == 1  # never sent twice
    [held] = held_stops(sim, "binanceusdm")
    assert held.qty == Decimal("0.020")


async def test_scale_ins_sent_at_once_wait_for_each_other(sim, make_engine, store):
    engine = await make_engine(config=SCALE_IN)
    first = await engine.submit(signal("base", exchange="binanceusdm"))
    await engine.idle()

    outcomes = await asyncio.gather(*(engine.submit(signal(f"add-{i}", exchange="binanceusdm"))
                                      for i in range(3)))
    await engine.idle()

    assert [o.status for o in outcomes] == ["accepted"] * 3
    p = engine.positions[first.position_id]
    assert p.filled_qty == Decimal("0.040") == position_qty(sim, "binanceusdm")
    [held] = held_stops(sim, "binanceusdm")
    assert held.qty == Decimal("0.040")
