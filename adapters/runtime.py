"""Building and running the service from a `WardenConfig`: what ``warden run`` does.

Order matters: take the instance lock (or wait as a standby), open the store and bring the read
model up to date, start the engine (it reconciles every account and resumes unfinished intents
before accepting signals), then open the intake and the operator endpoints. On SIGTERM/SIGINT the
reverse: close the intake, stop the feeds, let in-flight sagas finish or park as intents, keep
every stop on the exchange, release the lock, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from warden.adapters.config import WardenConfig, engine_config, exchange_config
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.instance_lock import InstanceLock
from warden.adapters.intake import Intake
from warden.adapters.logs import EventLogger
from warden.adapters.metrics import Metrics
from warden.adapters.ops_http import ops_app
from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.service import WardenService
from warden.adapters.store import open_store
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.bybit_native import BybitNativeStream
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.engine.context import no_checkpoint
from warden.engine.core import Engine
from warden.projections.accounts_view import AccountsView
from warden.projections.positions_view import PositionsView, open_positions
from warden.projections.runner import ProjectionRunner
from warden.projections.supervisor import Supervisor

log = logging.getLogger("warden.run")


CRASH_ENV = "WARDEN_CRASH_AT"


def crash_checkpoint(step: str | None) -> Callable[[str], None]:
    """Fault injection for the crash tests: with ``WARDEN_CRASH_AT=<step>`` the process dies at that
    step of the open saga (``os._exit``: no cleanup, no flush, like SIGKILL). Unset in production."""
    def checkpoint(name: str) -> None:
        if name == step:
            os._exit(137)
    return checkpoint if step else no_checkpoint


def secrets_of(config: WardenConfig) -> list[str]:
    """Every secret value, for the log redaction filter."""
    found = [config.intake.secret, config.store.password]
    for account in config.exchanges:
        found += [account.api_key, account.secret]
    return [s.reveal() for s in found if s is not None]


@dataclass
class Running:
    service: WardenService
    intake: Intake | None
    ops: list[web.AppRunner]
    lock: InstanceLock
    urls: dict[str, str]


def _streams(account: Any, port: CcxtExchange) -> tuple[PrivateStream, PrivateStream | None]:
    """The stream that feeds the engine, and in compare mode the native one that runs beside it."""
    if account.stream == "native":
        return BybitNativeStream(exchange_config(account), port), None
    if account.stream == "compare":
        return CcxtPrivateStream(port), BybitNativeStream(exchange_config(account), port)
    return CcxtPrivateStream(port), None


async def start(config: WardenConfig, *, crash_at: str | None = None) -> Running:
    url = config.store.url_with_password()
    lock = InstanceLock(url, [(a.venue.value, a.account) for a in config.exchanges])
    await lock.acquire(standby=config.engine.standby)
    store = open_store(url)
    db = open_readmodel(url)
    runners = [ProjectionRunner(store, db, PositionsView(store)), ProjectionRunner(store, db, AccountsView())]
    for runner in runners:
        runner.setup()
        runner.catch_up()
    ports = {(a.venue.value, a.account): CcxtExchange(exchange_config(a)) for a in config.exchanges}
    engine = Engine(store, ports, config=engine_config(config), checkpoint=crash_checkpoint(crash_at),
                    open_position_ids=lambda: [row.id for row in open_positions(db)],
                    account_configs={(a.venue.value, a.account): engine_config(config, a)
                                     for a in config.exchanges})
    engine.ctx.listeners.append(EventLogger())
    metrics = Metrics()
    metrics.attach(engine)
    pairs = [_streams(a, ports[a.venue.value, a.account]) for a in config.exchanges]
    service = WardenService(engine, [feed for feed, _ in pairs], list(ports.values()),
                            supervisor=Supervisor(runners),
                            shadows={feed: shadow for feed, shadow in pairs if shadow is not None})
    service.discrepancy_observers.append(lambda d: metrics.discrepancies.labels(d.kind.value).inc())
    await service.start()
    urls: dict[str, str] = {"store": store.config.display}
    intake = Intake(engine, config.intake) if config.intake.secret is not None else None
    if intake is not None:
        urls["intake"] = await intake.serve()
    ops = []
    for name, listen in (("health", config.health), ("metrics", config.metrics)):
        runner = web.AppRunner(ops_app(service, metrics), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, listen.host, listen.port).start()
        host, port = runner.addresses[0][:2]
        urls[name] = f"http://{host}:{port}/{'healthz' if name == 'health' else 'metrics'}"
        ops.append(runner)
    return Running(service, intake, ops, lock, urls)


async def stop(running: Running, grace: float = 10.0) -> None:
    if running.intake is not None:
        await running.intake.close()  # no new signals first
    await running.service.stop(grace=grace)
    for port in running.service.engine.ctx.ports.values():
        await port.close()
    for runner in running.ops:
        await runner.cleanup()
    running.lock.release()


async def run_until_signalled(config: WardenConfig, ready: Any = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    running = await start(config, crash_at=os.environ.get(CRASH_ENV))
    log.info("warden is running", extra={"event": "ready"})
    if ready is not None:
        ready(running.urls)
    try:
        await stopping.wait()
    finally:
        log.info("warden is stopping", extra={"event": "stopping"})
        try:
            await stop(running)
        except Exception:
            log.exception("shutdown was not clean")
