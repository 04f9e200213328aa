"""Configurable venue latency with seeded jitter, and raw (possibly malformed) frames pushed to an
account's websocket clients through the real push path."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import aiohttp
import ccxt.async_support
import pytest
from click.testing import CliRunner

from warden.sim import FaultKind, Simulator, SimulatorThread, make_exchange
from warden.sim.cli import sim_command
from warden.sim.latency import Latency

from .conftest import BTC


def test_jitter_is_seeded():
    def samples(seed: int) -> list[float]:
        latency = Latency(80, 20, seed)
        return [latency.sample() for _ in range(50)]

    assert samples(1) == samples(1) != samples(2)
    assert all(0.06 <= s <= 0.1 for s in samples(1))
    assert Latency().sample() == 0.0


async def test_rest_answers_take_at_least_the_configured_latency(manual_clock):
    async with Simulator(clock=manual_clock, latency_ms=120, jitter_ms=20) as sim:
        exchange = make_exchange(ccxt.async_support, "binance", sim)
        try:
            await exchange.load_markets()
            loop = asyncio.get_running_loop()
            started = loop.time()
            await exchange.fetch_balance()
            assert loop.time() - started >= 0.1           # the latency minus the jitter
            sim.control.set_latency(0)
            assert sim.latency.sample() == 0.0
        finally:
            await exchange.close()


async def test_pushes_keep_their_order_under_jitter(manual_clock):
    async with (Simulator(clock=manual_clock, latency_ms=15, jitter_ms=15, seed=4) as sim,
                aiohttp.ClientSession() as http):
        ws = await http.ws_connect(sim.ws_url + "/v5/public/linear")
        await ws.send_json({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await ws.receive_json(timeout=2)                  # the ack
        await ws.receive_json(timeout=2)                  # the snapshot on subscribe
        for step in range(1, 31):
            sim.control.set_price("BTCUSDT", 60000 + step)
        prices = [(await ws.receive_json(timeout=2))["data"]["lastPrice"] for _ in range(30)]
        assert prices == [str(60000 + step) for step in range(1, 31)]
        await ws.close()


def test_simulator_thread_takes_the_latency_options():
    with SimulatorThread(latency_ms=5, jitter_ms=1) as thread:
        assert thread.control.set_latency(30, 5) == {"latency_ms": 30.0, "jitter_ms": 5.0}


def test_the_cli_refuses_negative_latency():
    result = CliRunner().invoke(sim_command, ["--latency-ms", "-1"])
    assert result.exit_code == 2 and "--latency-ms" in result.output


# -- raw frames ----------------------------------------------------------------------------------
async def _bybit_private(http: aiohttp.ClientSession, sim: Simulator) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(sim.ws_url + "/v5/private")
    expires = str(int(time.time() * 1000) + 10_000)
    sign = hmac.new(b"bybit-secret", f"GET/realtime{expires}".encode(), hashlib.sha256)
    await ws.send_json({"op": "auth", "args": ["bybit-key", expires, sign.hexdigest()]})
    assert (await ws.receive_json(timeout=2))["success"] is True
    return ws


async def test_raw_frames_reach_the_accounts_private_and_public_clients_verbatim(sim):
    garbage = ['{"topic":"order","data":[{"orderId":', "not json at all", "[]", "1e400",
               '{"topic":"tickers.BTCUSDT","data":{"lastPrice":"-0"}}']
    async with aiohttp.ClientSession() as http:
        private = await _bybit_private(http, sim)
        public = await http.ws_connect(sim.ws_url + "/v5/public/linear")
        binance = await http.ws_connect(sim.ws_url + "/ws")
        for frame in garbage:
            assert sim.control.push_raw("bybit", frame) == 2          # not the Binance client
        for ws in (private, public):
            assert [(await ws.receive(timeout=2)).data for _ in garbage] == garbage
        with pytest.raises(asyncio.TimeoutError):
            await binance.receive(timeout=0.2)
        assert sim.control.push_raw("bybit", "only private", public=False) == 1
        assert (await private.receive(timeout=2)).data == "only private"
        for ws in (private, public, binance):
            await ws.close()


async def test_invalid_utf8_and_binary_frames_go_out_as_such(sim):
    async with aiohttp.ClientSession() as http:
        public = await http.ws_connect(sim.ws_url + "/v5/public/linear")
        sim.control.push_raw("bybit", b"\x00\xff binary", binary=True)
        message = await public.receive(timeout=2)
        assert (message.type, message.data) == (aiohttp.WSMsgType.BINARY, b"\x00\xff binary")
        sim.control.push_raw("bybit", '{"a": "\ud800"}')              # a lone surrogate
        message = await public.receive(timeout=2)
        # not UTF-8: the client refuses the text frame and closes (1007), as a real one would
        assert message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE,
                                aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await public.close()


async def test_raw_frames_go_through_the_push_faults_and_the_http_twin(sim):
    async with aiohttp.ClientSession() as http:
        public = await http.ws_connect(sim.ws_url + "/ws")
        sim.control.inject(FaultKind.PUSH_DROP, venue="binance", times=1)
        async with http.post(sim.http_url + "/_sim/push-raw", json={
                "account": "binance", "frame": base64.b64encode(b"dropped").decode(),
                "encoding": "base64"}) as answer:
            assert (await answer.json())["result"] == 0               # eaten by the fault
        async with http.post(sim.http_url + "/_sim/push-raw", json={
                "account": "binance", "frame": "{{{"}) as answer:
            assert (await answer.json())["result"] == 1
        assert (await public.receive(timeout=2)).data == "{{{"
        assert sim.control.pushes("binance")[-1]["payload"] == "{{{"
        await public.close()


async def test_many_garbage_frames_arrive_in_order_and_the_stream_still_works(sim):
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(sim.ws_url + "/ws")
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1})
        await ws.receive_json(timeout=2)                             # the ack
        await ws.receive_json(timeout=2)                             # the first mark price
        garbage = [f"garbage {n} " + "}" * (n % 7) for n in range(1000)]
        async with http.post(sim.http_url + "/_sim/push-raw",
                             json={"account": "binance", "frames": garbage}) as answer:
            assert (await answer.json())["result"] == 1000
        sim.control.set_price("BTCUSDT", "60123.4")
        received = [(await ws.receive(timeout=2)).data for _ in range(1001)]
        assert received[:1000] == garbage
        assert '"p":"60123.4"' in received[1000]
        await ws.close()


async def test_a_ccxt_pro_client_sees_real_pushes_after_raw_ones(pro_bybit, sim):
    await asyncio.wait_for(pro_bybit.watch_ticker(BTC), 3)
    sim.control.push_raw("bybit", '{"topic":"tickers.ETHUSDT","type":"snapshot","data":{}}')
    sim.control.set_price("BTCUSDT", "60500")
    ticker = await asyncio.wait_for(pro_bybit.watch_ticker(BTC), 3)
    assert ticker["last"] == 60500


