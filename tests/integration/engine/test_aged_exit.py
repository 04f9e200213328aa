"""The aged exit against the simulator, on both venues: at each phase a reduce-only limit order
rests at the phase's price (amended in place when the phase changes), it fills at its own price
with the maker fee, a part-filled exit is priced by its VWAP, the stop closing first cancels it,
and the hard limit cancels it and closes at market. Every order action is an intent and an outcome.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import ACCOUNTS, FAST, signal
from tests.integration.engine.test_open_saga import venue_position
from warden.domain.lifecycle import Status
from warden.domain.policies import AgedExitPolicy, AgedPhase
from warden.domain.values import CloseReason, ExitAction

# A long 0.010 BTCUSDT at 60000: aged at 3600 s; phase 1 asks 60300 or better, phase 2 (at
# 4200 s) 59880; at 4800 s what is left goes at market.
AGED = AgedExitPolicy(max_age_seconds=3600, phases=(AgedPhase(0, Decimal("-0.5")),
                                                    AgedPhase(600, Decimal("0.2"))),
                      hard_limit_seconds=1200)
CONFIG = replace(FAST, aged=AGED, reconcile_interval_s=0)  # every tick also takes a REST snapshot
VENUES = ["bybit", "binanceusdm"]
WRITES = {"bybit": {"create": ("POST", "/v5/order/create"), "amend": ("POST", "/v5/order/amend"),
                    "cancel": ("POST", "/v5/order/cancel")},
          "binanceusdm": {"create": ("POST", "/fapi/v1/order"), "amend": ("PUT", "/fapi/v1/order"),
                          "cancel": ("DELETE", "/fapi/v1/order")}}


def exit_orders(sim, venue: str) -> list[dict]:
    return [o for o in sim.control.state(ACCOUNTS[venue][0])["orders"] if "exit" in o["client_id"]]


def writes(sim, venue: str, what: str) -> list[dict]:
    method, path = WRITES[venue][what]
    short = "bybit" if venue == "bybit" else "binance"
    found = [r for r in sim.control.requests(short, path) if r["method"] == method
             and r["path"] == path and r.get("status", 200) < 400]
    if what == "create":  # only the exit's limit orders, not the entry or the close
        found = [r for r in found if "exit" in str(r["params"])]
    return found


def exit_events(store, position_id) -> list[tuple]:
    """The exit order's events as (name, action or price, ...), in order."""
    out = []
    for e in store.history(position_id):
        name = type(e).__name__
        if name == "ExitOrderRequested":
            out.append((name, e.action, e.price))
        elif name in ("ExitOrderPlaced", "ExitOrderAmended"):
            out.append((name, e.price))
        elif name == "ExitOrderFilled":
            out.append((name, e.filled_qty, e.average_price))
        elif name in ("ExitOrderCancelled", "ExitOrderRejected"):
            out.append((name,))
    return out


async def aged_long(sim, make_engine, clock, venue: str, signal_id: str):
    engine = await make_engine(config=CONFIG)
    outcome = await engine.submit(signal(signal_id, exchange=venue))
    await engine.idle()
    sim.control.set_price("BTCUSDT", "59990")
    clock.advance(3600)
    await engine.tick()
    return engine, outcome.position_id


@pytest.mark.parametrize("venue", VENUES)
async def test_each_phase_rests_a_limit_amended_in_place_that_fills_at_its_own_price(
        sim, make_engine, store, clock, venue):
    engine, pid = await aged_long(sim, make_engine, clock, venue, "aged-limit")
    (resting,) = exit_orders(sim, venue)
    assert (resting["type"], Decimal(resting["price"]), resting["reduce_only"], resting["status"]) == \
        ("limit", Decimal("60300"), True, "new")
    sim.control.set_price("BTCUSDT", "59800")
    clock.advance(600)
    await engine.tick()  # phase 2: the same order now asks 59880; the mark (59800) is below it

    (amended,) = exit_orders(sim, venue)
    assert (amended["id"], Decimal(amended["price"]), amended["status"]) == \
        (resting["id"], Decimal("59880"), "new")
    sim.control.set_price("BTCUSDT", "59950")  # the mark crosses it: the venue fills it at 59880
    await engine.tick()

    position = store.repository.get(pid)
    fills = sim.control.state(ACCOUNTS[venue][0])["fills"]
    (fill,) = [f for f in fills if f["order_id"] == resting["id"]]
    assert (Decimal(fill["price"]), Decimal(fill["qty"]), fill["maker"]) == \
        (Decimal("59880"), Decimal("0.01"), True)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.AGED_EXIT
    assert position.exit_price == Decimal("59880.0") and position.realized_pnl < 0
    assert venue_position(sim, venue) is None
    assert len(writes(sim, venue, "create")) == 1 and len(writes(sim, venue, "amend")) == 1
    assert not writes(sim, venue, "cancel")
    assert exit_events(store, pid) == [
        ("ExitOrderRequested", ExitAction.PLACE, Decimal("60300.0")),
        ("ExitOrderPlaced", Decimal("60300.0")),
        ("ExitOrderRequested", ExitAction.AMEND, Decimal("59880.0")),
        ("ExitOrderAmended", Decimal("59880.0")),
        ("ExitOrderFilled", Decimal("0.01"), Decimal("59880.0"))]


@pytest.mark.parametrize("venue", VENUES)
async def test_a_part_filled_exit_is_priced_by_the_vwap_of_its_fills(sim, make_engine, store, clock,
                                                                     venue):
    sim.control.set_partial_fills(2)  # every order fills in two executions
    engine, pid = await aged_long(sim, make_engine, clock, venue, "aged-vwap")
    sim.control.set_price("BTCUSDT", "60300")  # one piece of the resting order fills at 60300
    await engine.tick()
    assert store.repository.get(pid).status is Status.AGED  # half of it is still open
    sim.control.set_price("BTCUSDT", "60100")
    clock.advance(1200)  # the hard limit: the rest goes at market

    await engine.tick()

    position = store.repository.get(pid)
    history = store.history(pid)
    cancelled = next(e for e in history if type(e).__name__ == "ExitOrderCancelled")
    close = next(e for e in history if type(e).__name__ == "CloseRequested")
    assert cancelled.filled_qty == Decimal("0.005") and "hard limit" in cancelled.reason
    assert close.reason is CloseReason.AGED_EXIT and close.limit_price is None
    assert position.close_reason is CloseReason.AGED_EXIT
    assert position.exit_price == Decimal("60200")  # (0.005 at 60300 + 0.005 at 60100) / 0.010
    assert venue_position(sim, venue) is None and not [
        o for o in exit_orders(sim, venue) if o["status"] in ("new", "partially_filled")]
    assert not [e for e in store.all_events() if type(e).__name__ == "PositionMismatch"]


@pytest.mark.parametrize("venue", VENUES)
async def test_the_stop_closing_first_takes_the_exit_order_with_it(sim, make_engine, store, clock,
                                                                   venue):
    engine, pid = await aged_long(sim, make_engine, clock, venue, "aged-race")
    assert exit_orders(sim, venue)[0]["status"] == "new"
    sim.control.set_price("BTCUSDT", "58700")  # through the stop (58800) before 60300 is reached

    await engine.tick()

    position = store.repository.get(pid)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.STOP_HIT
    assert [o["status"] for o in exit_orders(sim, venue)] != ["new"]
    assert exit_events(store, pid)[-2:] == [("ExitOrderRequested", ExitAction.CANCEL, None),
                                            ("ExitOrderCancelled",)]
    assert not [f for f in sim.control.state(ACCOUNTS[venue][0])["fills"]
                if f["order_id"] == exit_orders(sim, venue)[0]["id"]]
