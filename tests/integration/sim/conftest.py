"""Fixtures for the simulator suite: a simulator in the test's loop or in a thread, and
unmodified ccxt clients (sync, async, pro) pointed at it over 127.0.0.1."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.async_support
import ccxt.pro
import pytest

from warden.sim import ManualClock, Simulator, SimulatorThread, make_exchange

BTC = "BTC/USDT:USDT"


@pytest.fixture
def sim_thread():
    with SimulatorThread() as thread:
        yield thread


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sim(manual_clock):
    async with Simulator(clock=manual_clock) as simulator:
        yield simulator


def _sync(venue: str, thread: SimulatorThread, **extra):
    exchange = make_exchange(ccxt, venue, thread, **extra)
    exchange.timeout = 3000
    exchange.load_markets()
    return exchange


@pytest.fixture
def bybit(sim_thread):
    return _sync("bybit", sim_thread)


@pytest.fixture
def binance(sim_thread):
    return _sync("binance", sim_thread)


async def _async(module, venue: str, simulator: Simulator):
    exchange = make_exchange(module, venue, simulator)
    exchange.timeout = 3000
    await exchange.load_markets()
    return exchange


@pytest.fixture
async def abybit(sim):
    exchange = await _async(ccxt.async_support, "bybit", sim)
    yield exchange
    await exchange.close()


@pytest.fixture
async def abinance(sim):
    exchange = await _async(ccxt.async_support, "binance", sim)
    yield exchange
    await exchange.close()


@pytest.fixture
async def pro_bybit(sim):
    exchange = await _async(ccxt.pro, "bybit", sim)
    yield exchange
    await exchange.close()


@pytest.fixture
async def pro_binance(sim):
    exchange = await _async(ccxt.pro, "binance", sim)
    yield exchange
    await exchange.close()


@pytest.fixture(params=["bybit", "binance"])
async def pro(request, sim):
    """A ccxt.pro client of each venue in turn."""
    exchange = await _async(ccxt.pro, request.param, sim)
    yield exchange
    await exchange.close()


@pytest.fixture(params=["bybit", "binance"])
async def aex(request, sim):
    """An async ccxt client of each venue in turn (REST only)."""
    exchange = await _async(ccxt.async_support, request.param, sim)
    yield exchange
    await exchange.close()


def venue_of(exchange) -> str:
    return "bybit" if exchange.id == "bybit" else "binance"


async def subscribed(sim, venue: str, *topics: str, timeout: float = 5.0) -> None:
    """Wait until a websocket session of `venue` listens to every topic (Binance's user stream
    listens to "user" once connected), so a push sent next is not lost to a slow subscribe."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(set(topics) <= s.topics for s in sim.hub.of(venue)):
        if loop.time() > deadline:
            raise TimeoutError(f"no {venue} session subscribed to {topics}")
        await asyncio.sleep(0.02)


def private_topics(exchange, *bybit_topics: str) -> tuple[str, ...]:
    return bybit_topics if exchange.id == "bybit" else ("user",)


async def eventually(check, timeout: float = 5.0) -> None:
    """Poll `check()` until it is true (pushes travel asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition never became true")
        await asyncio.sleep(0.02)
