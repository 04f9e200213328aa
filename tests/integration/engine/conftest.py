"""Fixtures for engine tests: the simulator on loopback, real ccxt adapters, a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.store import WardenStore, open_store
from warden.domain.policies import TrailingStopPolicy
from warden.domain.values import Venue
from warden.engine.context import EngineConfig, OffsetClock, no_checkpoint
from warden.engine.core import Engine
from warden.engine.ports import StopMode
from warden.sim.server import Simulator

ACCOUNTS = {"bybit": ("bybit", Venue.BYBIT, "bybit-key", "bybit-secret"),
            "binanceusdm": ("binance", Venue.BINANCE, "binance-key", "binance-secret")}
FAST = EngineConfig(fill_timeout_s=1.5, retry_delay_s=0.05,
                    trailing=TrailingStopPolicy(Decimal("1"), Decimal("0.5"), min_step_ticks=1,
                                                min_interval_seconds=Decimal(0)))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
def store() -> WardenStore:
    return open_store("memory://")


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
async def make_engine(sim: Simulator, store: WardenStore, clock: OffsetClock):
    """Build (and start) engines on one store and one simulator; each gets fresh adapters."""
    built: list[tuple[Engine, list[CcxtExchange]]] = []

    async def build(config: EngineConfig = FAST, checkpoint: Callable[[str], None] = no_checkpoint,
                    start: bool = True, venues: tuple[str, ...] = ("bybit", "binanceusdm"),
                    stop_mode: StopMode = StopMode.POSITION, request_timeout_s: float = 2.0,
                    **engine_kwargs) -> Engine:
        ports = {}
        for venue in venues:
            account, enum, key, secret = ACCOUNTS[venue]
            ports[venue, account] = CcxtExchange(ExchangeConfig(
                venue=enum, account=account, api_key=key, secret=secret, rest_url=sim.http_url,
                ws_url=sim.ws_url, request_timeout_s=request_timeout_s), poll_interval=0.05,
                stop_mode=stop_mode)
        engine = Engine(store, ports, config=config, clock=clock, checkpoint=checkpoint, **engine_kwargs)
        built.append((engine, list(ports.values())))
        if start:
            await engine.start()
        return engine

    yield build
    for engine, ports in built:
        await engine.stop()
        for port in ports:
            await port.close()


def signal(signal_id: str, *, exchange: str = "bybit", symbol: str = "BTCUSDT", side: str = "long",
           quantity: str = "0.010", **extra: str) -> dict:
    account = ACCOUNTS[exchange][0]
    return {"signal_id": signal_id, "exchange": exchange, "account": account, "symbol": symbol,
            "side": side, "quantity": quantity, **extra}


def events_of(store: WardenStore, position_id) -> list[str]:
    return [type(e).__name__ for e in store.history(position_id)]
