"""The demo's world: the simulated exchange, real ccxt adapters, the engine and the running service.

Everything is built here and torn down in reverse on exit, all inside one event loop and over
127.0.0.1 only. The engine and the simulator share one `DemoClock`, so when the demo skips ahead
(to age a position) the exchange's order and fill times skip with it; signed requests are still
checked against the wall clock, so skipping never breaks authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.metrics import Metrics
from warden.adapters.service import WardenService
from warden.adapters.store import WardenStore
from warden.domain.policies import AgedExitPolicy, AgedPhase, TrailingStopPolicy
from warden.domain.values import Venue
from warden.engine.context import EngineConfig, OffsetClock
from warden.engine.core import Engine
from warden.runtime.build import build_engine, build_service, exchange_ports, private_feed
from warden.sim.server import Simulator

# (venue, account) -> (enum, api key, secret): the simulator's default accounts.
ACCOUNTS = {("bybit", "bybit"): (Venue.BYBIT, "bybit-key", "bybit-secret"),
            ("binanceusdm", "binance"): (Venue.BINANCE, "binance-key", "binance-secret")}

# Short enough to see everything in seconds: trailing from 1% profit, ageing after 5 simulated
# minutes (first demanding +0.5%, a minute later accepting -0.5%, at market after two).
DEMO_CONFIG = EngineConfig(
    fill_timeout_s=1.5, retry_delay_s=0.05,
    trailing=TrailingStopPolicy(Decimal("1"), Decimal("0.5"), min_step_ticks=1,
                                min_interval_seconds=Decimal(0)),
    aged=AgedExitPolicy(max_age_seconds=300, phases=(AgedPhase(0, Decimal("-0.5")),
                                                     AgedPhase(60, Decimal("0.5"))),
                        hard_limit_seconds=120))


class DemoClock(OffsetClock):
    """Wall time plus the simulated minutes the demo skipped; one clock for engine and simulator."""

    def now_ms(self) -> int:  # the simulator's clock protocol
        return int(self.now().timestamp() * 1000)


class ScenarioFailed(RuntimeError):
    """A scenario did not reach its expected outcome in time."""


class World:
    """The simulator, one `CcxtExchange` and private stream per account, the engine, the service."""

    def __init__(self, store: WardenStore, *, seed: int = 0, speed: float = 1.0,
                 config: EngineConfig = DEMO_CONFIG,
                 on_engine: Callable[[Engine], None] = lambda engine: None) -> None:
        self.store, self.seed, self.speed, self.config = store, seed, speed, config
        self.on_engine = on_engine  # called before the engine starts, e.g. to listen to its saves
        self.clock = DemoClock()
        self.sim = Simulator(clock=self.clock, seed=seed)
        self.exchanges: list[CcxtExchange] = []
        self.engine: Engine | None = None
        self.service: WardenService | None = None
        self.metrics: Metrics | None = None

    async def __aenter__(self) -> World:
        await self.sim.start()
        configs = [ExchangeConfig(venue=enum, account=account, api_key=key, secret=secret,
                                  rest_url=self.sim.http_url, ws_url=self.sim.ws_url, request_timeout_s=2.0)
                   for (_, account), (enum, key, secret) in ACCOUNTS.items()]
        ports = exchange_ports(configs, poll_interval=0.05)
        self.exchanges = list(ports.values())
        self.engine = build_engine(self.store, ports, config=self.config, clock=self.clock)
        self.on_engine(self.engine)
        wired = build_service(self.engine, [private_feed("ccxt", c, ports[c.venue.value, c.account])
                                            for c in configs],
                              tick_interval=0.2, symbols_interval=0.2)
        self.service, self.metrics = wired.service, wired.metrics
        await self.service.start()
        await self.until("every private stream is connected",
                         lambda: not self.service.feeds_down())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.service is not None:
            await self.service.stop(grace=2)
        for exchange in self.exchanges:
            await exchange.close()
        await self.sim.stop()

    async def pause(self, seconds: float) -> None:
        """A pause in the script, shortened by ``--speed``."""
        await asyncio.sleep(seconds / self.speed)

    @staticmethod
    def expect(ok: object, what: str) -> None:
        """A scenario's expected outcome; not met, the demo fails naming it."""
        if not ok:
            raise ScenarioFailed(f"expected {what}")

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait for ``check``; a scenario that never gets there fails the demo, naming ``what``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if loop.time() > deadline:
                raise ScenarioFailed(f"not reached within {timeout:g} s: {what}")
            await asyncio.sleep(0.05)
