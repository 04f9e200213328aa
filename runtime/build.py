"""How warden is put together: exchange ports, the engine over them, the service that feeds it.

``warden run`` (`run.py`), ``warden demo`` (`demo/world.py`) and the test harness
(`tests/integration/engine/conftest.py`) all build through these functions, so what runs in
production is what the demo shows and the tests exercise: the same ports, the same engine, the
same service with its metrics, read-model supervisor and compare-mode shadows. Only the inputs
differ (where the exchange is, which policies, which clock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.metrics import Metrics
from warden.adapters.service import WardenService
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.binance_native import BinanceNativeStream
from warden.adapters.streams.bybit_native import BybitNativeStream
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.domain.values import Venue
from warden.engine.context import Clock, EngineConfig, SystemClock, no_checkpoint
from warden.engine.core import Engine
from warden.engine.ports import EventStore, ExchangePort, StopMode
from warden.projections.runner import ProjectionRunner
from warden.projections.supervisor import Supervisor

Key = tuple[str, str]  # (venue, account), as ccxt names the venue: "bybit", "binanceusdm"
Feed = tuple[PrivateStream, PrivateStream | None]  # the stream the engine trusts, its compare shadow


def exchange_ports(configs: Iterable[ExchangeConfig], *, poll_interval: float = 0.2,
                   stop_mode: StopMode = StopMode.POSITION) -> dict[Key, CcxtExchange]:
    """One ccxt port per account. ``stop_mode`` applies where the venue offers a choice (Bybit)."""
    return {(c.venue.value, c.account): CcxtExchange(c, poll_interval=poll_interval, stop_mode=stop_mode)
            for c in configs}


def private_feed(mode: str, config: ExchangeConfig, port: CcxtExchange) -> Feed:
    """The private stream of one account: ccxt.pro (``"ccxt"``), the venue's native protocol
    (``"native"``), or ccxt.pro with the native one beside it, compared (``"compare"``)."""
    native = BybitNativeStream if config.venue is Venue.BYBIT else BinanceNativeStream
    if mode == "native":
        return native(config, port), None
    if mode == "compare":
        return CcxtPrivateStream(port), native(config, port)
    return CcxtPrivateStream(port), None


def build_engine(store: EventStore, ports: Mapping[Key, ExchangePort], *, config: EngineConfig,
                 clock: Clock | None = None, checkpoint: Callable[[str], None] = no_checkpoint,
                 account_configs: Mapping[Key, EngineConfig] | None = None,
                 open_position_ids: Callable[[], Iterable[UUID]] | None = None) -> Engine:
    """The engine over the ports; not started (``Engine.start`` reconciles and resumes)."""
    return Engine(store, dict(ports), config=config, clock=clock or SystemClock(), checkpoint=checkpoint,
                  account_configs=dict(account_configs or {}), open_position_ids=open_position_ids)


@dataclass
class Wired:
    engine: Engine
    service: WardenService
    metrics: Metrics


def build_service(engine: Engine, feeds: Sequence[Feed], *, runners: Sequence[ProjectionRunner] = (),
                  tick_interval: float = 1.0, symbols_interval: float = 1.0,
                  compare_window: float = 2.0) -> Wired:
    """The service that feeds the engine (private streams, mark prices, the clock), with its
    metrics attached and, when read models are given, their supervisor. Not started."""
    metrics = Metrics()
    metrics.attach(engine)
    exchanges = [port for port in engine.ctx.ports.values() if isinstance(port, CcxtExchange)]
    service = WardenService(engine, [feed for feed, _ in feeds], exchanges,
                            supervisor=Supervisor(list(runners)) if runners else None,
                            shadows={feed: shadow for feed, shadow in feeds if shadow is not None},
                            tick_interval=tick_interval, symbols_interval=symbols_interval,
                            compare_window=compare_window)
    service.discrepancy_observers.append(lambda d: metrics.discrepancies.labels(d.kind.value).inc())
    return Wired(engine, service, metrics)
