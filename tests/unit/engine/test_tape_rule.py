"""The tape rule (engine/tape.py) on a real in-memory store: a changed price at most once per
interval, the latest one never lost, decision prices always, nothing twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.builders import at
from warden.adapters.store import open_store
from warden.domain.price_tape import PriceTape
from warden.domain.values import PriceSource
from warden.engine.context import EngineConfig, EngineContext, SystemClock
from warden.engine.tape import PriceTapes

MARK = PriceSource.MARK


async def tapes(interval: float = 1.0, symbols=("BTCUSDT", "ETHUSDT")):
    """Tapes with ``symbols``' already read from the store (as the engine's start reads those of
    the positions it holds)."""
    store = open_store("memory://")
    ctx = EngineContext(store, {}, EngineConfig(), SystemClock())
    tapes = PriceTapes(ctx, interval)
    for symbol in symbols:
        await tapes.open("bybit", symbol, at(0))
    return store, tapes


async def recorded(store, venue="bybit", symbol="BTCUSDT") -> list[tuple[float, Decimal]]:
    await store.record()  # every save queued so far is committed (the group-commit writer)
    events = store.history(PriceTape.id_for(venue, symbol))
    return [((e.timestamp - at(0)).total_seconds(), e.price) for e in events
            if type(e).__name__ == "PriceRecorded"]


async def test_a_changed_price_is_recorded_at_most_once_per_interval():
    store, tape = await tapes(interval=1.0)
    for k in range(10):  # ten changes within 0.9 s of monotonic time
        tape.observe("bybit", "BTCUSDT", Decimal(60000 + k), MARK, at(k / 10), now=100 + k / 10)
    tape.observe("bybit", "BTCUSDT", Decimal("60100"), MARK, at(1.0), now=101.0)
    tape.stop()
    assert (await recorded(store)) == [(0.0, Decimal(60000)), (1.0, Decimal(60100))]


async def test_the_latest_price_reaches_the_tape_when_the_market_goes_quiet():
    store, tape = await tapes(interval=0.05)
    tape.observe("bybit", "BTCUSDT", Decimal("60000"), MARK, at(0), now=0.0)
    now = asyncio.get_running_loop().time()
    tape.observe("bybit", "BTCUSDT", Decimal("60010"), MARK, at(0.01), now=1e9)  # recorded: far later
    tape.observe("bybit", "BTCUSDT", Decimal("60020"), MARK, at(0.02), now=1e9 + 0.01)  # held
    tape.observe("bybit", "BTCUSDT", Decimal("60030"), MARK, at(0.03), now=1e9 + 0.02)  # replaces it
    assert [p for _, p in (await recorded(store))] == [Decimal("60000"), Decimal("60010")]
    await asyncio.sleep(0.1 + asyncio.get_running_loop().time() - now)
    assert (await recorded(store))[-1] == (0.03, Decimal("60030"))  # then nothing came: recorded anyway
    assert len(await recorded(store)) == 3


async def test_an_unchanged_price_is_never_recorded_twice_and_symbols_have_their_own_tapes():
    store, tape = await tapes(interval=0.0)
    for k in range(5):
        tape.observe("bybit", "BTCUSDT", Decimal("60000"), MARK, at(k), now=float(k))
        tape.observe("bybit", "ETHUSDT", Decimal("3000"), MARK, at(k), now=float(k))
    assert len(await recorded(store)) == 1 and len(await recorded(store, symbol="ETHUSDT")) == 1


async def test_a_price_a_decision_used_is_recorded_once_with_its_own_time():
    store, tape = await tapes(interval=60.0)
    tape.observe("bybit", "BTCUSDT", Decimal("60000"), MARK, at(0), now=0.0)
    tape.observe("bybit", "BTCUSDT", Decimal("60500"), MARK, at(2), now=2.0)  # held by the interval
    for _ in range(3):  # three positions' decisions used the same price
        tape.used("bybit", "BTCUSDT", Decimal("60500"), MARK, at(2))
    tape.stop()
    assert (await recorded(store)) == [(0.0, Decimal("60000")), (2.0, Decimal("60500"))]


async def test_a_new_symbols_prices_wait_for_its_tape_to_be_read_off_the_loop_and_none_is_lost():
    store, tape = await tapes(interval=60.0, symbols=())
    tape.observe("bybit", "BTCUSDT", Decimal("60000"), MARK, at(0), now=0.0)  # starts the read
    tape.used("bybit", "BTCUSDT", Decimal("59990"), MARK, at(1))
    tape.observe("bybit", "BTCUSDT", Decimal("60010"), MARK, at(2), now=2.0)  # the latest wins
    assert not store.history(PriceTape.id_for("bybit", "BTCUSDT"))  # held until the tape is read
    await asyncio.sleep(0.2)  # the read, in its thread
    assert await recorded(store) == [(1.0, Decimal("59990")), (2.0, Decimal("60010"))]


async def test_while_the_store_cannot_be_read_a_new_symbols_prices_are_held_and_the_loop_goes_on():
    store, tape = await tapes(interval=0.05, symbols=())
    ok = store.writer._available
    store.writer._available, store.writer._reason = False, "OperationalError: down"
    try:
        tape.observe("bybit", "BTCUSDT", Decimal("60000"), MARK, at(0), now=0.0)
        await asyncio.sleep(0.01)
        tape.observe("bybit", "BTCUSDT", Decimal("60010"), MARK, at(1), now=1.0)
        await asyncio.sleep(0.1)
    finally:
        store.writer._available = ok
    tape.observe("bybit", "BTCUSDT", Decimal("60020"), MARK, at(2), now=2.0)  # read again now
    await asyncio.sleep(0.2)
    assert await recorded(store) == [(2.0, Decimal("60020"))]
