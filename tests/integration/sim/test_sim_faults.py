"""Each injected fault, observed through unmodified ccxt (or a raw socket where ccxt would
hide what went over the wire)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import aiohttp
import ccxt
import pytest

from warden.sim import FaultKind

BTC = "BTC/USDT:USDT"


async def _bybit_socket(session: aiohttp.ClientSession, sim, topics: list[str]):
    ws = await session.ws_connect(sim.ws_url + "/v5/private")
    expires = str(int(time.time() * 1000) + 10_000)
    sign = hmac.new(b"bybit-secret", f"GET/realtime{expires}".encode(), hashlib.sha256)
    await ws.send_json({"op": "auth", "args": ["bybit-key", expires, sign.hexdigest()]})
    assert (await ws.receive_json(timeout=2))["success"] is True
    await ws.send_json({"op": "subscribe", "req_id": "1", "args": topics})
    assert (await ws.receive_json(timeout=2))["success"] is True
    return ws


async def _drain(ws, wait: float = 0.3) -> list[dict]:
    messages = []
    while True:
        try:
            messages.append(await ws.receive_json(timeout=wait))
        except TimeoutError:
            return messages


# -- REST faults ---------------------------------------------------------------------------------
async def test_bybit_order_queries_hide_the_fill_for_n_seconds(abybit, sim, manual_clock):
    sim.control.inject(FaultKind.STALE_FILL, venue="bybit", seconds=5)
    order = await abybit.create_order(BTC, "market", "buy", 0.012)
    seen = await abybit.fetch_order(order["id"], BTC, {"acknowledged": True})
    assert not seen["average"] and seen["filled"] == 0        # the seed's "price 0.0"
    assert await abybit.fetch_my_trades(BTC) == []
    assert (await abybit.fetch_positions([BTC]))[0]["entryPrice"] == 60000   # the seed's fix
    manual_clock.advance(6)
    seen = await abybit.fetch_order(order["id"], BTC, {"acknowledged": True})
    assert (seen["average"], seen["filled"]) == (60000, 0.012)


async def test_binance_result_hides_the_average_while_stale(abinance, sim, manual_clock):
    sim.control.inject(FaultKind.STALE_FILL, venue="binance", seconds=2)
    order = await abinance.create_order(BTC, "market", "buy", 0.012)
    assert not order["average"]
    manual_clock.advance(3)
    assert (await abinance.fetch_order(order["id"], BTC))["average"] == 60000


async def test_stop_rejected_once_then_accepted(abybit, sim):
    await abybit.create_order(BTC, "market", "buy", 0.012)
    sim.control.inject(FaultKind.REJECT_STOP, venue="bybit", times=1)
    params = {"stopLossPrice": 58500, "tradingStopEndpoint": True, "positionIdx": 0}
    with pytest.raises(ccxt.BadRequest, match="minimum price precision"):
        await abybit.create_order(BTC, "market", "sell", 0.012, None, params)
    await abybit.create_order(BTC, "market", "sell", 0.012, None, params)
    assert (await abybit.fetch_positions([BTC]))[0]["stopLossPrice"] == 58500


async def test_binance_stop_rejected_n_times_with_a_chosen_code(abinance, sim):
    await abinance.create_order(BTC, "market", "buy", 0.012)
    sim.control.inject(FaultKind.REJECT_STOP, venue="binance", times=2, code=-4131,
                       message="The counterparty's best price does not meet the PERCENT_PRICE "
                               "filter limit.")
    params = {"stopLossPrice": 58500, "closePosition": True}
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeError, match="-4131"):
            await abinance.create_order(BTC, "market", "sell", None, None, params)
    assert (await abinance.create_order(BTC, "market", "sell", None, None, params))["id"]


@pytest.mark.parametrize("venue", ["bybit", "binance"])
async def test_http_5xx_is_exchange_not_available_and_places_nothing(venue, sim, abybit,
                                                                     abinance):
    exchange = abybit if venue == "bybit" else abinance
    sim.control.inject(FaultKind.HTTP_ERROR, venue=venue, status=503, times=1)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.create_order(BTC, "market", "buy", 0.012)
    assert sim.control.state(venue)["orders"] == []
    await exchange.create_order(BTC, "market", "buy", 0.012)
    assert len(sim.control.state(venue)["orders"]) == 1


@pytest.mark.parametrize("venue", ["bybit", "binance"])
async def test_rate_limit_uses_the_venue_signal(venue, sim, abybit, abinance):
    exchange = abybit if venue == "bybit" else abinance
    sim.control.inject(FaultKind.RATE_LIMIT, venue=venue, times=1)
    expected = ccxt.RateLimitExceeded if venue == "bybit" else ccxt.DDoSProtection
    with pytest.raises(expected):
        await exchange.fetch_balance()
    assert sim.control.requests(venue)[-1]["status"] == (200 if venue == "bybit" else 429)
    await exchange.fetch_balance()


async def test_hang_longer_than_the_client_timeout_is_a_request_timeout(abybit, sim):
    abybit.timeout = 300
    sim.control.inject(FaultKind.HANG, venue="bybit", seconds=5, times=1)
    started = time.monotonic()
    with pytest.raises(ccxt.RequestTimeout):
        await abybit.fetch_balance()
    assert time.monotonic() - started < 2


async def test_hang_after_processing_leaves_an_order_the_client_never_heard_of(abinance, sim):
    abinance.timeout = 300
    sim.control.inject(FaultKind.HANG, venue="binance", path="/fapi/v1/order", seconds=3,
                       after=True, times=1)
    with pytest.raises(ccxt.RequestTimeout):
        await abinance.create_order(BTC, "market", "buy", 0.012)
    abinance.timeout = 3000
    assert [p["contracts"] for p in await abinance.fetch_positions()] == [0.012]


# -- websocket faults ----------------------------------------------------------------------------
async def test_duplicated_and_reordered_pushes(sim):
    async with aiohttp.ClientSession() as http:
        ws = await _bybit_socket(http, sim, ["order"])
        sim.control.inject(FaultKind.PUSH_DUPLICATE, venue="bybit", path="order", times=1)
        sim.control.open_position("bybit", "BTCUSDT", "buy", "0.01")
        statuses = [m["data"][0]["orderStatus"] for m in await _drain(ws)]
        assert statuses == ["New", "New", "Filled"]
        sim.control.inject(FaultKind.PUSH_REORDER, venue="bybit", path="order", batch=2)
        sim.control.open_position("bybit", "BTCUSDT", "buy", "0.01")
        statuses = [m["data"][0]["orderStatus"] for m in await _drain(ws)]
        assert statuses == ["Filled", "New"]
        await ws.close()


async def test_delayed_and_dropped_pushes(sim):
    async with aiohttp.ClientSession() as http:
        ws = await _bybit_socket(http, sim, ["position", "execution"])
        sim.control.inject(FaultKind.PUSH_DROP, venue="bybit", path="execution")
        sim.control.inject(FaultKind.PUSH_DELAY, venue="bybit", path="position", seconds=0.5)
        started = time.monotonic()
        sim.control.open_position("bybit", "BTCUSDT", "buy", "0.01")
        first = await ws.receive_json(timeout=2)
        assert first["topic"] == "position" and time.monotonic() - started >= 0.45
        assert await _drain(ws) == []            # the execution push never came
        await ws.close()


async def test_missing_auth_ack_leaves_the_watch_hanging(pro_bybit, sim):
    sim.control.inject(FaultKind.MISSING_AUTH_ACK, venue="bybit", times=1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pro_bybit.watch_orders(), 1.0)
    assert all(s.account is None for s in sim.hub.of("bybit"))


async def test_missing_pong(sim):
    sim.control.inject(FaultKind.MISSING_PONG, venue="bybit", times=1)
    async with aiohttp.ClientSession() as http:
        ws = await _bybit_socket(http, sim, ["order"])
        await ws.send_json({"req_id": "7", "op": "ping"})
        assert await _drain(ws, 0.3) == []
        await ws.send_json({"req_id": "8", "op": "ping"})
        assert (await ws.receive_json(timeout=1))["op"] == "pong"
        await ws.close()


async def test_listen_key_expiry_silences_the_stream(abinance, sim):
    key = (await abinance.fapiPrivatePostListenKey())["listenKey"]
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{sim.ws_url}/ws/{key}")
        await asyncio.sleep(0.1)
        assert sim.control.expire_listen_key("binance") == 1
        assert json.loads((await ws.receive(timeout=1)).data)["e"] == "listenKeyExpired"
        await abinance.create_order(BTC, "market", "buy", 0.012)
        assert await _drain(ws) == []               # silent from now on
        with pytest.raises(ccxt.AuthenticationError, match="-1125"):
            await abinance.fapiPrivatePutListenKey()
        fresh = (await abinance.fapiPrivatePostListenKey())["listenKey"]
        assert fresh != key
        await ws.close()
