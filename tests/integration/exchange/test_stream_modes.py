"""Compare mode, the native stream's keepalive / auth / garbage handling, and mark-price ticks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.integration.exchange.exchange_sim_helpers import QTY, SYMBOL, is_a, make_config, stall, until
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.streams.bybit_native import BybitNativeStream
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.adapters.streams.compare import Discrepancy, Mismatch, compare_streams
from warden.adapters.streams.events import (
    Connection,
    PositionSnapshot,
    PriceTick,
    StreamRejection,
    StreamStatus,
)
from warden.adapters.streams.public import MarkPriceStream
from warden.adapters.streams.supervision import Backoff
from warden.domain.reports import PositionReport
from warden.domain.values import PriceSource, Side, Venue
from warden.sim.server import Simulator

FAST = Backoff(base=0.1, cap=0.3)


async def test_compare_mode_reports_a_push_one_feed_lost(sim: Simulator) -> None:
    config = make_config(sim, Venue.BYBIT)
    baseline = CcxtPrivateStream(CcxtExchange(config), backoff=FAST, settle=0.05)
    candidate = BybitNativeStream(config, CcxtExchange(config), backoff=FAST)
    for stream in (baseline, candidate):
        await stream.start()
        await until(stream, is_a(PositionSnapshot))
    found: list[Discrepancy] = []
    comparing = asyncio.create_task(compare_streams(baseline, candidate, found.append, window=0.4))
    sim.control.inject("push_drop", venue="bybit", path="position", times=1)
    trader = CcxtExchange(config)
    await trader.open_market(SYMBOL, Side.LONG, QTY, "cmp-1")
    await asyncio.sleep(1.2)
    comparing.cancel()
    await asyncio.gather(comparing, return_exceptions=True)
    for closable in (baseline, candidate):
        await closable.stop()
        await closable.port.close()
    await trader.close()
    # The dropped push reached only one of the two sessions (whichever the venue served first);
    # the order and the fill reached both alike, and ended alike.
    [lost] = found
    assert lost.kind in (Mismatch.MISSING, Mismatch.EXTRA)
    delivered = lost.baseline if lost.kind is Mismatch.MISSING else lost.candidate
    assert isinstance(delivered, PositionReport) and delivered.size == QTY
    assert lost.key == ("position", SYMBOL)


async def test_a_missing_pong_makes_the_native_stream_reconnect(sim: Simulator) -> None:
    config = make_config(sim, Venue.BYBIT)
    stream = BybitNativeStream(config, CcxtExchange(config), backoff=FAST, ping_interval=0.2,
                               pong_timeout=0.2)
    await stream.start()
    try:
        await until(stream, is_a(PositionSnapshot))
        sim.control.inject("missing_pong", venue="bybit", times=1)
        events = await until(stream, is_a(PositionSnapshot, attempt=1))
        [down] = [e for e in events if isinstance(e, StreamStatus)
                  and e.state is Connection.DISCONNECTED]
        assert "pong" in down.reason
    finally:
        await stream.stop()
        await stream.port.close()


async def test_a_native_stream_that_hears_nothing_is_restarted_by_its_supervisor(sim: Simulator) -> None:
    config = make_config(sim, Venue.BYBIT)
    # Its own pong check would wait 30 s; the supervisor's quiet rule (1 s) acts first.
    stream = BybitNativeStream(config, CcxtExchange(config), backoff=FAST, ping_interval=0.2,
                               pong_timeout=30, quiet_after=1.0)
    await stream.start()
    try:
        await until(stream, is_a(StreamStatus, state=Connection.CONNECTED))
        assert stall(sim, "bybit") == 1
        events = await until(stream, is_a(StreamStatus, state=Connection.CONNECTED))
        [restart] = [e for e in events if isinstance(e, StreamStatus) and e.state is Connection.RESTARTING]
        assert restart.reason.startswith("quiet: no frame or heartbeat for 1.")
        assert stream.health.restarts == 1 and stream.health.up
        trader = CcxtExchange(config)
        await trader.open_market(SYMBOL, Side.LONG, QTY, "quiet-1")
        await trader.close()
        await until(stream, lambda e: isinstance(e, PositionReport) and e.size == QTY)
    finally:
        await stream.stop()
        await stream.port.close()


async def test_a_refused_auth_is_reported_and_retried_not_fatal(sim: Simulator) -> None:
    good = make_config(sim, Venue.BYBIT)
    bad = type(good)(**{**good.__dict__, "secret": "wrong"})
    stream = BybitNativeStream(bad, CcxtExchange(good), backoff=FAST)
    await stream.start()
    try:
        events = await until(stream, is_a(StreamStatus, attempt=1, state=Connection.DISCONNECTED))
        refusals = [e for e in events if isinstance(e, StreamStatus)
                    and e.state is not Connection.CONNECTING]
        assert len(refusals) == 2
        assert all(e.state is Connection.DISCONNECTED and "auth" in e.reason for e in refusals)
    finally:
        await stream.stop()
        await stream.port.close()


class _FakePort:
    venue, account = "bybit", "local"

    async def fetch_positions(self) -> list[PositionReport]:
        return []

    async def close(self) -> None:
        return None


@pytest.fixture
async def garbage_server() -> AsyncIterator[str]:
    """A websocket server that acks auth and subscribe, then sends garbage and one real push."""
    async def handler(ws: ServerConnection) -> None:
        async for text in ws:
            op = json.loads(text).get("op")
            await ws.send(json.dumps({"success": True, "ret_msg": "", "op": op, "conn_id": "x"}))
            if op == "subscribe" and json.loads(text)["args"] == ["execution"]:
                await ws.send("}{ definitely not json")
                await ws.send(json.dumps({"topic": "position", "data": [
                    {"symbol": SYMBOL, "side": "Sell", "size": "2", "avgPrice": "3000",
                     "updatedTime": "1700000000000"}]}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def test_a_garbage_frame_is_a_typed_rejection_and_the_stream_goes_on(
        sim: Simulator, garbage_server: str) -> None:
    config = type(make_config(sim, Venue.BYBIT))(**{**make_config(sim, Venue.BYBIT).__dict__,
                                                     "ws_url": garbage_server})
    stream = BybitNativeStream(config, _FakePort(), backoff=FAST)  # type: ignore[arg-type]
    await stream.start()
    try:
        events = await until(stream, is_a(PositionReport))
        [rejection] = [e for e in events if isinstance(e, StreamRejection)]
        assert rejection.raw_text == "}{ definitely not json"
        assert events[-1].side is Side.SHORT and events[-1].size == Decimal(2)
    finally:
        await stream.stop()


async def test_mark_price_ticks_follow_the_venue_price(sim: Simulator, venue: Venue) -> None:
    exchange = CcxtExchange(make_config(sim, venue))
    ticks = MarkPriceStream(exchange, [SYMBOL], backoff=FAST).ticks()
    try:
        first = await asyncio.wait_for(anext(ticks), 5)
        assert isinstance(first, PriceTick) and first.price > 0
        sim.control.set_price(SYMBOL, "61000.5")
        deadline = time.monotonic() + 5
        while True:
            tick = await asyncio.wait_for(anext(ticks), max(deadline - time.monotonic(), 0.01))
            if isinstance(tick, PriceTick) and tick.price == Decimal("61000.5"):
                break
        assert tick.source in (PriceSource.MARK, PriceSource.TICKER) and tick.symbol == SYMBOL
    finally:
        await ticks.aclose()
        await exchange.close()


PRICE_TOPIC = {Venue.BYBIT: "tickers", Venue.BINANCE: "markPrice"}


async def test_a_price_frame_delayed_past_a_newer_one_is_dropped(sim: Simulator, venue: Venue) -> None:
    """A frame that arrives after a newer one (a delayed push) is not the price any more: the
    stream drops it by the venue's timestamp and counts it, so no decision is made from it."""
    exchange = CcxtExchange(make_config(sim, venue))
    stream = MarkPriceStream(exchange, [SYMBOL], backoff=FAST)
    ticks = stream.ticks()
    try:
        await asyncio.wait_for(anext(ticks), 5)
        sim.control.inject("push_delay", venue="bybit" if venue is Venue.BYBIT else "binance",
                           path=PRICE_TOPIC[venue], seconds=0.6, times=1)
        sim.control.set_price(SYMBOL, "61500.5")   # held back 0.6 s on the way
        await asyncio.sleep(0.05)
        sim.control.set_price(SYMBOL, "61400.5")   # the newer price, on time
        seen: list[Decimal] = []
        deadline = time.monotonic() + 1.5          # the delayed frame has arrived by then
        while time.monotonic() < deadline:
            try:
                tick = await asyncio.wait_for(anext(ticks), max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                break
            if isinstance(tick, PriceTick):
                seen.append(tick.price)
        assert Decimal("61400.5") in seen
        assert seen[-1] == Decimal("61400.5"), seen  # the older price never came after it
        assert stream.health.stale_frames == 1 and stream.health.report()["stale_frames"] == 1
    finally:
        await ticks.aclose()
        await exchange.close()


async def test_a_tick_carries_the_time_its_frame_arrived_not_when_it_was_taken(
        sim: Simulator, venue: Venue) -> None:
    exchange = CcxtExchange(make_config(sim, venue))
    ticks = MarkPriceStream(exchange, [SYMBOL], backoff=FAST).ticks()
    try:
        await asyncio.wait_for(anext(ticks), 5)
        sim.control.set_price(SYMBOL, "61234.5")
        pushed = time.monotonic()
        await asyncio.sleep(0.5)  # the frame comes in meanwhile; nobody takes it yet
        while True:
            tick = await asyncio.wait_for(anext(ticks), 5)
            if isinstance(tick, PriceTick) and tick.price == Decimal("61234.5"):
                break
        assert tick.arrived is not None and pushed <= tick.arrived <= pushed + 0.4
        assert time.monotonic() - tick.arrived >= 0.1  # taken later than it arrived: measured from arrival
    finally:
        await ticks.aclose()
        await exchange.close()


async def test_the_mark_price_feed_outlives_a_rest_outage_at_its_start(sim: Simulator, venue: Venue) -> None:
    exchange = CcxtExchange(make_config(sim, venue))
    sim.control.inject("http_error", venue="bybit" if venue is Venue.BYBIT else "binance")
    feed = MarkPriceStream(exchange, [SYMBOL], backoff=FAST)
    ticks = feed.ticks()
    first = asyncio.create_task(anext(ticks))
    try:
        await asyncio.sleep(1.0)  # the markets cannot be loaded: each session fails and restarts
        assert not first.done() and feed.health.restarts >= 2 and "503" in feed.health.last_error
        sim.control.clear_faults("http_error")
        assert isinstance(await asyncio.wait_for(first, 5), PriceTick)
        assert feed.health.up
    finally:
        await ticks.aclose()
        await exchange.close()
