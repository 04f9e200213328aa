"""Fixtures for engine tests: the simulator on loopback, real ccxt adapters, a real store.

Everything is built by the composition root (`runtime/build.py`), as ``warden run`` and the demo
build it; only the exchange's address, the policies and the clock are the tests' own."""

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
from warden.runtime.build import build_engine, build_service, exchange_ports
from warden.sim.server import Simulator

ACCOUNTS = {"bybit": ("bybit", Venue.BYBIT, "bybit-key", "bybit-secret"),
            "binanceusdm": ("binance", Venue.BINANCE, "binance-key", "binance-secret")}
# How long a signal waits for the store in these tests (production: SIGNAL_STORE_WAIT_S, 1 s). Longer
# here: on a loaded 2-core machine under xdist a healthy commit can take over a second, and a test
# about something else must not get a 503 for it. tests/integration/engine/test_store_signal_wait.py
# tests the production bound itself.
SIGNAL_WAIT_S = 5.0
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
                    exchange_options: dict | None = None, stop_mode: StopMode = StopMode.POSITION,
                    request_timeout_s: float = 2.0, signal_wait_s: float = SIGNAL_WAIT_S,
                    **engine_kwargs) -> Engine:
        configs = []
        for venue in venues:
            account, enum, key, secret = ACCOUNTS[venue]
            configs.append(ExchangeConfig(
                venue=enum, account=account, api_key=key, secret=secret, rest_url=sim.http_url,
                ws_url=sim.ws_url, **{"request_timeout_s": request_timeout_s, **(exchange_options or {})}))
        ports = exchange_ports(configs, poll_interval=0.05, stop_mode=stop_mode)
        engine = build_engine(store, ports, config=config, clock=clock, checkpoint=checkpoint,
                              **engine_kwargs)
        engine.signal_wait_s = signal_wait_s
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


@pytest.fixture
async def ops_service(make_engine):
    """Build a running `WardenService` with its operator endpoints on a loopback port.

    ``streams(exchanges)`` makes the private streams (ccxt.pro with defaults when omitted); a
    (stream, native stream) pair runs the two in compare mode. The fixture waits until every one is
    connected and returns (service, base URL)."""
    from aiohttp import web

    from tests.integration.engine.test_service import eventually
    from warden.adapters.ops_http import ops_app
    from warden.adapters.service import WardenService
    from warden.adapters.streams.ccxt_private import CcxtPrivateStream

    running: list[tuple[WardenService, web.AppRunner]] = []

    async def build(streams: Callable[[list[CcxtExchange]], list] | None = None, *,
                    exchange_options: dict | None = None, config: EngineConfig = FAST, **service_options):
        engine = await make_engine(config, start=False, exchange_options=exchange_options)
        exchanges = list(engine.ctx.ports.values())
        made = streams(exchanges) if streams else [CcxtPrivateStream(x) for x in exchanges]
        feeds = [s if isinstance(s, tuple) else (s, None) for s in made]
        wired = build_service(engine, feeds, **{"tick_interval": 0.2, **service_options})
        service, metrics = wired.service, wired.metrics
        runner = web.AppRunner(ops_app(service, metrics))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        running.append((service, runner))
        await service.start()
        await eventually(lambda: all(feed.up for feed in service.feeds().values()))
        return service, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    yield build
    for service, runner in running:
        await service.stop(grace=1)
        await runner.cleanup()
