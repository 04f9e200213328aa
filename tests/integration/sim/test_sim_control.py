"""The control surface over HTTP (/_sim/...) and the `sim_command` CLI as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import ccxt
import pytest

from warden.sim import SimulatorThread, make_exchange

ROOT = Path(__file__).resolve().parents[3]


async def test_http_control_sets_prices_opens_phantoms_and_reads_state(sim, abybit):
    async with aiohttp.ClientSession(base_url=sim.http_url) as http:
        async def call(method: str, action: str, **body):
            async with http.request(method, f"/_sim/{action}", json=body or None) as answer:
                assert answer.status == 200, await answer.text()
                return (await answer.json())["result"]

        assert await call("POST", "price", symbol="BTCUSDT", price="61234.5") == "61234.5"
        await call("POST", "open-position", account="bybit", symbol="BTCUSDT", side="buy",
                   qty="0.25")
        positions = await abybit.fetch_positions()
        assert [(p["contracts"], p["entryPrice"]) for p in positions] == [(0.25, 61234.5)]
        state = await call("GET", "state")
        assert [(p["symbol"], p["qty"]) for p in state["positions"]] == [("BTCUSDT", "0.25")]
        fault = await call("POST", "faults", kind="http_error", venue="bybit", status=502,
                           times=1)
        assert (await call("GET", "faults"))[0]["id"] == fault["id"]
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await abybit.fetch_balance()
        await call("POST", "close-position", account="bybit", symbol="BTCUSDT")
        assert await abybit.fetch_positions() == []
        logged = await call("GET", "requests?venue=bybit&path=position/list")
        assert {r["params"].get("settleCoin") for r in logged} == {"USDT"}
        await call("POST", "price", symbol="ETHUSDT", prices=["3100", "3200"])
        assert (await call("POST", "step", symbols=["ETHUSDT"]))["ETHUSDT"] == "3100"


async def test_unknown_control_action_is_404(sim):
    async with aiohttp.ClientSession() as http, http.get(sim.http_url + "/_sim/nope") as answer:
        assert answer.status == 404


def test_thread_control_proxy_runs_on_the_simulator_loop():
    with SimulatorThread(seed=3) as thread:
        exchange = make_exchange(ccxt, "bybit", thread)
        exchange.load_markets()
        thread.control.script_prices("BTCUSDT", ["60100", "60200"])
        assert thread.control.step() ["BTCUSDT"] == "60100"
        assert exchange.fetch_ticker("BTC/USDT:USDT")["last"] == 60100


def test_cli_prints_one_json_line_and_serves_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from warden.sim.cli import sim_command; sim_command()",
         "--json", "--seed", "5", "--tick", "0", "--latency-ms", "60", "--jitter-ms", "10"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert urls["bybit"]["rest"].startswith("http://127.0.0.1:")
        assert urls["binance"]["ws"].endswith("/ws")
        exchange = make_exchange(ccxt, "binance", urls["binance"]["rest"])
        exchange.load_markets()
        started = time.monotonic()
        assert exchange.fetch_balance()["USDT"]["total"] == 10000
        assert time.monotonic() - started >= 0.05           # the venue's latency is on
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0
