"""The open saga against the simulator: real ccxt over loopback, the seed incident's faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.engine.conftest import ACCOUNTS, events_of, signal
from warden.domain.lifecycle import Status
from warden.domain.values import CloseReason, PriceSource


def venue_position(sim, venue: str, symbol: str = "BTCUSDT") -> dict | None:
    account = ACCOUNTS[venue][0]
    return next((p for p in sim.control.state(account)["positions"] if p["symbol"] == symbol), None)


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_a_signal_ends_protected_with_the_stop_on_the_exchange(sim, make_engine, store, venue):
    engine = await make_engine()
    outcome = await engine.submit(signal("s1", exchange=venue))
    await engine.idle()

    position = store.repository.get(outcome.position_id)
    assert outcome.status == "accepted"
    assert position.status is Status.PROTECTED
    assert position.entry_price > 0 and position.stop_price < position.entry_price
    on_venue = venue_position(sim, venue)
    assert Decimal(on_venue["qty"]) == Decimal("0.010")
    state = sim.control.state(ACCOUNTS[venue][0])
    stops = [Decimal(s["trigger_price"]) for s in state["stops"]] + \
        ([Decimal(on_venue["stop_loss"])] if on_venue["stop_loss"] else [])
    assert position.stop_price in stops


async def test_the_seed_incident_price_zero_then_a_precision_rejection(sim, make_engine, store):
    engine = await make_engine()
    sim.control.inject("stale_fill", venue="bybit", seconds=1.0)
    sim.control.inject("reject_stop", venue="bybit", times=1, code=10001,
                       message="price must be greater than minimum price precision")

    outcome = await engine.submit(signal("seed-1"))
    await engine.idle()

    position = store.repository.get(outcome.position_id)
    history = store.history(outcome.position_id)
    fill = next(e for e in history if type(e).__name__ == "EntryFilled")
    rejected = next(e for e in history if type(e).__name__ == "StopLossRejected")
    assert fill.price > 0 and fill.price_source is not PriceSource.ORDER_RESPONSE
    assert rejected.code == "10001" and "minimum price precision" in rejected.reason
    assert position.status is Status.PROTECTED
    assert Decimal(venue_position(sim, "bybit")["stop_loss"]) == position.stop_price


async def test_a_position_that_cannot_be_protected_is_closed_and_proven_flat(sim, make_engine, store):
    engine = await make_engine()
    sim.control.inject("reject_stop", venue="bybit", code=10001,
                       message="price must be greater than minimum price precision")

    outcome = await engine.submit(signal("unprotectable"))
    await engine.idle()

    position = store.repository.get(outcome.position_id)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.ROLLED_BACK
    assert position.exit_price is not None and position.exit_price > 0
    assert venue_position(sim, "bybit") is None  # flat on the exchange
    assert events_of(store, outcome.position_id).count("StopLossRejected") == 3


async def test_duplicates_and_bad_signals_are_recorded_and_open_nothing(sim, make_engine, store):
    engine = await make_engine()
    first = await engine.submit(signal("dup"))
    await engine.idle()
    again = await engine.submit(signal("dup"))
    bad = await engine.submit(signal("bad", quantity="-1"))
    unknown = await engine.submit(signal("x", symbol="NOPEUSDT"))

    assert again.status == "duplicate" and again.position_id == first.position_id
    assert bad.status == "rejected" and "quantity must be > 0" in bad.reason
    assert unknown.status == "rejected" and "NOPEUSDT" in unknown.reason
    creates = [r for r in sim.control.requests("bybit", "/v5/order/create")]
    assert len(creates) == 1
    book = [type(e).__name__ for e in store.all_events() if "SignalBook" in type(e).__qualname__]
    assert book.count("SignalDuplicated") == 1 and book.count("SignalRejected") == 2


async def test_each_account_protects_with_its_own_policy(sim, make_engine, store):
    from dataclasses import replace

    from tests.integration.engine.conftest import FAST
    from warden.domain.policies import InitialStopPolicy

    tight = replace(FAST, initial_stop=InitialStopPolicy(Decimal("1")))
    engine = await make_engine(account_configs={("binanceusdm", "binance"): tight})
    on_bybit = await engine.submit(signal("policy-bybit"))
    on_binance = await engine.submit(signal("policy-binance", exchange="binanceusdm"))
    await engine.idle()

    assert store.repository.get(on_bybit.position_id).stop_price == Decimal("58800.0")
    assert store.repository.get(on_binance.position_id).stop_price == Decimal("59400.0")
