"""The whole service on the simulator: private streams, mark prices and the clock drive the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_open_saga import venue_position
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.domain.lifecycle import Status
from warden.domain.values import CloseBasis, CloseReason, OrderOrigin, Origin
from warden.runtime.build import build_service


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def service(make_engine):
    engine = await make_engine(start=False)
    feeds = [(CcxtPrivateStream(x), None) for x in engine.ctx.ports.values()]
    service = build_service(engine, feeds, tick_interval=0.2, symbols_interval=0.2).service
    await service.start()
    await eventually(lambda: not service.feeds_down())
    yield service
    await service.stop(grace=2)


async def test_a_stop_hit_pushed_by_the_venue_closes_the_position(sim, service, store):
    outcome = await service.engine.submit(signal("svc-stop"))
    await service.engine.idle()
    stop = store.repository.get(outcome.position_id).stop_price

    sim.control.set_price("BTCUSDT", stop - 20)

    await eventually(lambda: outcome.position_id not in service.engine.positions)
    position = store.repository.get(outcome.position_id)
    assert position.close_reason is CloseReason.STOP_HIT and position.exit_price is not None
    assert service.health()["ok"]


async def test_a_phantom_opened_while_running_is_adopted_and_protected_from_the_push(sim, service, store):
    sim.control.open_position("bybit", "BTCUSDT", "buy", "0.020")

    await eventually(lambda: any(p.origin is Origin.ADOPTED and p.status is Status.PROTECTED
                                 for p in service.engine.positions.values()))
    adopted = next(iter(service.engine.positions.values()))
    assert Decimal(venue_position(sim, "bybit")["stop_loss"]) == adopted.stop_price


async def test_a_close_missed_while_disconnected_is_repaired_by_the_resync(sim, service, store):
    outcome = await service.engine.submit(signal("svc-gap", exchange="binanceusdm"))
    await service.engine.idle()
    sim.control.inject("push_drop", venue="binance")  # the venue's pushes are lost ...
    sim.control.close_position("binance", "BTCUSDT")  # ... while someone closes by hand
    sim.control.clear_faults("push_drop")
    await sim.control.drop_websockets("binance")

    await eventually(lambda: outcome.position_id not in service.engine.positions)
    assert store.repository.get(outcome.position_id).close_reason is CloseReason.MANUAL
    await eventually(lambda: service.feeds()["binanceusdm/binance/ccxt-pro"].reconnects >= 1)


async def test_the_trailing_stop_follows_the_venues_mark_prices(sim, service, store):
    outcome = await service.engine.submit(signal("svc-trail"))
    await service.engine.idle()

    for price in ("60400", "60800", "61200"):
        sim.control.set_price("BTCUSDT", price)
        await asyncio.sleep(0.3)

    await eventually(lambda: store.repository.get(outcome.position_id).status is Status.TRAILING)
    await eventually(lambda: store.repository.get(outcome.position_id).stop_price == Decimal("60894.0"))


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
async def test_a_position_the_venue_liquidates_is_recorded_liquidated_from_its_order(
        sim, service, store, venue):
    """End to end: the venue's liquidation engine takes the position over (its own order, its
    own pushes); warden reads LIQUIDATED from that order, not from a price."""
    sim.control.set_liquidation(True)
    sim.control.set_price("BTCUSDT", "60000")
    port = next(p for p in service.engine.ctx.ports.values() if p.venue == venue)
    await port.client.set_leverage(50, "BTC/USDT:USDT")  # liquidated at 59,100; bankrupt at 58,800
    outcome = await service.engine.submit(signal(f"liq-{venue}", exchange=venue,
                                                 stop_loss_percent="5"))  # the stop at 57,000
    await service.engine.idle()

    sim.control.set_price("BTCUSDT", "59000")  # through the liquidation price, not the stop

    await eventually(lambda: outcome.position_id not in service.engine.positions)
    [closed] = [e for e in store.history(outcome.position_id) if type(e).__name__ == "PositionClosed"]
    assert (closed.reason, closed.basis) == (CloseReason.LIQUIDATED, CloseBasis.VENUE_ORDER)
    assert closed.closed_by.origin is OrderOrigin.LIQUIDATION
    assert closed.closed_by.order_type in ("CreateByTakeOver_PassThrough", "autoclose")
    assert closed.exit_price == Decimal("58800") and closed.realized_pnl < 0
    assert venue_position(sim, venue) is None


async def test_the_mark_price_feed_holds_each_symbol_on_one_connection_when_its_symbols_change(
        sim, service):
    """The feed restarts with the new symbol set whenever a position opens on a new symbol; the
    old feed's connection goes with it, so each price comes once (ccxt's Binance client put each
    new set on a connection of its own and kept the old ones subscribed: every price came twice)."""
    def subscribed() -> list[set[str]]:  # each open Binance market connection's price streams
        return [{t.split("@")[0] for t in s.topics if "@markprice" in t}
                for s in sim.hub.of("binance") if not s.private and not s.ws.closed]

    for symbol, quantity in (("BTCUSDT", "0.010"), ("ETHUSDT", "0.10")):
        await service.engine.submit(signal(f"marks-{symbol}", exchange="binanceusdm", symbol=symbol,
                                           quantity=quantity))
        await service.engine.idle()
        await eventually(lambda s=symbol: any(s.lower() in t for t in subscribed()))

    await eventually(lambda: [t for t in subscribed() if t] == [{"btcusdt", "ethusdt"}])
    await asyncio.sleep(0.5)  # and it stays so: no second connection with either symbol
    assert [t for t in subscribed() if t] == [{"btcusdt", "ethusdt"}]
