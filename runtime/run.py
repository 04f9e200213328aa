"""Running the service from a `WardenConfig`: what ``warden run`` does, with the parts `build.py`
makes.

Order matters: bind every listening address, reach the store, take the instance lock (or wait as
a standby), bring the read model up to date, reach every exchange, start the engine (it reconciles
every account and resumes unfinished intents before accepting signals), then serve the operator
endpoints and the intake on the addresses bound first. Whatever cannot be had fails startup with
one line (`adapters/startup.py`) before anything trades. On SIGTERM/SIGINT, at any point, the
reverse: close the intake, stop the feeds, let in-flight sagas finish or park as intents, keep
every stop on the exchange, release the lock, exit 0. If another instance takes the lock while the
database restarts (`InstanceLock.watch`), the same stop, then `LockLost`: exit 1, to come back as
a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from warden.adapters.config import ExchangeSettings, WardenConfig, engine_config, exchange_config
from warden.adapters.instance_lock import InstanceLock, LockLost
from warden.adapters.intake import Intake
from warden.adapters.logs import EventLogger
from warden.adapters.metrics import Metrics
from warden.adapters.ops_http import ops_app
from warden.adapters.readmodel_sql import ReadModelDB, open_readmodel
from warden.adapters.service import WardenService
from warden.adapters.startup import (
    Budget,
    StartupError,
    listen,
    reach_exchange,
    reach_store,
)
from warden.adapters.store import WardenStore, open_store
from warden.adapters.threads import in_thread
from warden.engine.context import no_checkpoint
from warden.engine.core import Engine
from warden.engine.errors import UnsupportedAccount
from warden.projections.accounts_view import AccountsView
from warden.projections.positions_view import PositionsView, open_positions
from warden.projections.runner import ProjectionRunner
from warden.runtime.build import build_engine, build_service, exchange_ports, private_feed

log = logging.getLogger("warden.run")


CRASH_ENV = "WARDEN_CRASH_AT"
SHUTDOWN_GRACE_S = 10.0  # for in-flight sagas to finish before they are parked as intents
RELEASE_WAIT_S = 5.0  # for a lock check under way (bounded by its connect timeout and keepalives)


def crash_checkpoint(step: str | None) -> Callable[[str], None]:
    """Fault injection for the crash tests: with ``WARDEN_CRASH_AT=<step>`` the process dies at that
    step of the open saga (``os._exit``: no cleanup, no flush, like SIGKILL). Unset in production."""
    def checkpoint(name: str) -> None:
        if name == step:
            os._exit(137)
    return checkpoint if step else no_checkpoint


def secrets_of(config: WardenConfig) -> list[str]:
    """Every secret value, for the log redaction."""
    found = [config.intake.secret, config.store.password]
    for account in config.exchanges:
        found += [account.api_key, account.secret]
    return [s.get_secret_value() for s in found if s is not None]


@dataclass
class Running:
    service: WardenService
    urls: dict[str, str]
    shutdown: AsyncExitStack  # undoes start, last step first


async def start(config: WardenConfig, *, crash_at: str | None = None,
                step: Callable[[str], None] = lambda _: None,
                on_lock_lost: Callable[[], None] = lambda: None) -> Running:
    """Everything up and serving, or a `StartupError` (`LockHeld`) with everything undone: also when
    cancelled (SIGTERM) at any step. ``step`` is told what is being done, for that message;
    ``on_lock_lost`` is called if another instance takes the instance lock (it must stop this one)."""
    async with AsyncExitStack() as undo:
        budget = Budget(config.engine.startup_budget_s)
        step("binding the listening addresses")
        listening = {name: listen(name, where.host, where.port) for name, where in _addresses(config)}
        for sock in (sock for sockets in listening.values() for sock in sockets):
            undo.callback(sock.close)
        store, db = await _open_store(config, undo, budget, step, on_lock_lost)
        store.writer.start_watching()  # /healthz says at once when the store cannot be written
        undo.callback(store.writer.close)  # last: what is queued is committed before the exit
        engine, runners = await _engine(config, store, db, undo, budget, step, crash_at)
        wired = build_service(engine, [private_feed(a.stream, exchange_config(a),
                                                    engine.ctx.ports[a.venue.value, a.account])
                                       for a in config.exchanges], runners=runners)
        service, metrics = wired.service, wired.metrics
        step("reconciling and resuming")
        undo.push_async_callback(service.stop, grace=SHUTDOWN_GRACE_S)
        try:
            await service.start()
        except UnsupportedAccount as e:
            raise StartupError(str(e)) from None
        urls = {"store": store.config.display}
        for name in ("health", "metrics"):
            urls[name] = await _serve_ops(name, service, metrics, listening[name], undo)
        if "intake" in listening:  # served last and closed first: no signal without a running engine
            intake = Intake(engine, config.intake)
            undo.push_async_callback(intake.close)
            urls["intake"] = await intake.serve(listening["intake"])
        return Running(service, urls, undo.pop_all())
    raise AssertionError("unreachable")  # the block returns or raises


def _addresses(config: WardenConfig) -> list[tuple[str, Any]]:
    """Where warden listens; the intake only with a webhook secret (without one it cannot run)."""
    found = [("health", config.health), ("metrics", config.metrics)]
    return [*found, ("intake", config.intake)] if config.intake.secret is not None else found


async def _open_store(config: WardenConfig, undo: AsyncExitStack, budget: Budget,
                      step: Callable[[str], None],
                      on_lock_lost: Callable[[], None]) -> tuple[WardenStore, ReadModelDB]:
    """The store reached, this instance's lock taken (a standby waits here) and watched from then
    on, the read model current."""
    url = config.store.url_with_password()
    step("reaching the store")
    await reach_store(url, config.store.url, budget)
    lock = InstanceLock(url, [(a.venue.value, a.account) for a in config.exchanges])
    step("waiting for the instance lock")
    await lock.acquire(standby=config.engine.standby, grace_s=config.engine.lock_grace_s)
    watching = asyncio.create_task(lock.watch(on_lock_lost))

    async def release() -> None:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        with contextlib.suppress(TimeoutError):  # a check that hangs: the exit closes the connection
            await asyncio.wait_for(in_thread(lock.release, name="warden-lock"), RELEASE_WAIT_S)

    undo.push_async_callback(release)
    budget.restart()  # a standby's wait is not startup time
    return open_store(url), open_readmodel(url)


async def _engine(config: WardenConfig, store: WardenStore, db: ReadModelDB, undo: AsyncExitStack,
                  budget: Budget, step: Callable[[str], None],
                  crash_at: str | None) -> tuple[Engine, list[ProjectionRunner]]:
    """The engine over every account's exchange port, each exchange reached first."""
    runners = [ProjectionRunner(store, db, view) for view in (PositionsView(store), AccountsView())]
    step("bringing the read model up to date")
    for runner in runners:
        runner.setup()
        await in_thread(runner.catch_up)  # a long log must not keep a SIGTERM waiting
    ports = exchange_ports(exchange_config(a) for a in config.exchanges)
    for port in ports.values():
        undo.push_async_callback(port.close)
    engine = build_engine(store, ports, config=engine_config(config), checkpoint=crash_checkpoint(crash_at),
                          open_position_ids=lambda: [row.id for row in open_positions(db)],
                          account_configs={(a.venue.value, a.account): engine_config(config, a)
                                           for a in config.exchanges})
    names = [f"exchanges[{i}] ({a.venue.value}/{a.account})" for i, a in enumerate(config.exchanges)]
    step("reaching " + ", ".join(names))

    async def reach(name: str, a: ExchangeSettings) -> None:
        # what the engine loads first; handed over so that it starts from a venue that answered
        engine.ctx.instruments[a.venue.value] = await reach_exchange(
            name, ports[a.venue.value, a.account], a.rest_url, budget)

    # every account side by side (a start waits for the slowest, not for the sum); the first
    # failure is raised once each has had its turn
    reached = await asyncio.gather(*(reach(n, a) for n, a in zip(names, config.exchanges, strict=True)),
                                   return_exceptions=True)
    for outcome in reached:
        if isinstance(outcome, BaseException):
            raise outcome
    engine.ctx.listeners.append(EventLogger())
    return engine, runners


async def _serve_ops(name: str, service: WardenService, metrics: Metrics, sockets: list[socket.socket],
                     undo: AsyncExitStack) -> str:
    runner = web.AppRunner(ops_app(service, metrics), access_log=None)
    await runner.setup()
    undo.push_async_callback(runner.cleanup)
    for sock in sockets:
        await web.SockSite(runner, sock).start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}/{'healthz' if name == 'health' else 'metrics'}"


async def stop(running: Running) -> None:
    """Close the intake, stop the feeds and the engine (every stop stays on the exchange), release
    the lock: the reverse of `start`."""
    await running.shutdown.aclose()


async def run_until_signalled(config: WardenConfig, ready: Any = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly. A signal during startup stops it at
    once, undoing what was done; a startup that fails raises `StartupError` or `LockHeld`. An
    instance whose lock another took stops the same way, then raises `LockLost`."""
    stopping, lost = asyncio.Event(), asyncio.Event()

    def lock_lost() -> None:
        lost.set()
        stopping.set()

    def gone() -> LockLost:
        return LockLost(f"another warden instance took the instance lock for "
                        f"{', '.join(f'{a.venue.value}/{a.account}' for a in config.exchanges)} "
                        "while the database was unavailable; this one stopped trading")

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    doing = ["starting"]
    starting = asyncio.create_task(start(config, crash_at=os.environ.get(CRASH_ENV), step=doing.append,
                                         on_lock_lost=lock_lost))
    signalled = asyncio.create_task(stopping.wait())
    await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        if lost.is_set():
            raise gone()
        log.info("warden stopped by a signal before it was ready, while %s", doing[-1],
                 extra={"event": "stopping"})
        return
    signalled.cancel()
    running = starting.result()
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
    if lost.is_set():
        raise gone()
