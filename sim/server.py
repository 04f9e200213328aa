"""The simulator process: one aiohttp app serving Bybit v5, Binance USD-M and the control API.

`Simulator` is an async context manager that binds an ephemeral 127.0.0.1 port inside the
caller's event loop; `SimulatorThread` runs the same thing on its own loop in a background thread
for synchronous ccxt tests. A middleware logs every venue request and applies the REST faults.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import (
    binance,
    binance_account,
    binance_algo,
    binance_market,
    binance_orders,
    binance_ws,
    bybit,
    bybit_account,
    bybit_market,
    bybit_orders,
    bybit_ws,
    control,
    control_http,
)
from .book import Account
from .coverage import Coverage
from .depth import BookShape, TopOfBook
from .engine import Engine
from .faults import FaultBook, FaultKind
from .hub import BODY, RECORD, SIM, Hub
from .latency import Latency
from .market import DEFAULT_INSTRUMENTS, Clock, Instrument, PriceFeed, SystemClock

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class AccountSpec:
    id: str
    venue: str
    api_key: str
    secret: str
    balance: Decimal = Decimal(10000)
    hedge: bool = False             # start in hedge (two-sided) position mode on every symbol


DEFAULT_ACCOUNTS = (
    AccountSpec("bybit", "bybit", "bybit-key", "bybit-secret"),
    AccountSpec("binance", "binance", "binance-key", "binance-secret"),
)


@dataclass
class RequestRecord:
    venue: str
    method: str
    path: str
    params: dict[str, Any]
    time_ms: int
    api_key: str | None = None
    status: int | None = None
    code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"venue": self.venue, "method": self.method, "path": self.path,
                "params": self.params, "time_ms": self.time_ms, "api_key": self.api_key,
                "status": self.status, "code": self.code}


def venue_of(path: str) -> str | None:
    if path.startswith("/v5"):
        return "bybit"
    if path.startswith(("/fapi", "/ws", "/private/ws", "/market/ws", "/public/ws")):
        return "binance"
    return None


class Simulator:
    """The simulated exchange. Every option that changes behaviour is off by default, so a bare
    `Simulator()` behaves as before those options existed (docs/simulator.md lists them)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 0,
                 prices_csv: str | Path | None = None, clock: Clock | None = None,
                 auth_clock: Clock | None = None, accounts: Iterable[AccountSpec] | None = None,
                 instruments: Iterable[Instrument] | None = None,
                 tick_interval: float | None = None, slippage_bps: Decimal | int = 0,
                 fee_rates: dict[str, Decimal] | None = None,
                 maker_fee_rates: dict[str, Decimal] | None = None,
                 spread_bps: Decimal | int | str = 0, depth: Decimal | str | None = None,
                 book_levels: int = 20, partial_fills: int = 1, liquidation: bool = False,
                 latency_ms: float = 0.0, jitter_ms: float = 0.0) -> None:
        self.host, self.port = host, port
        self.clock = clock or SystemClock()
        self.auth_clock = auth_clock or SystemClock()    # what signed timestamps are checked against
        self.feed = PriceFeed(instruments or DEFAULT_INSTRUMENTS, seed, clock=self.clock)
        if prices_csv is not None:
            self.feed.load_csv(prices_csv)
        book = TopOfBook(BookShape(Decimal(str(spread_bps)),
                                   Decimal(str(depth)) if depth else None, book_levels))
        self.engine = Engine(self.feed, self.clock, fee_rates, Decimal(slippage_bps),
                             maker_fee_rates=maker_fee_rates, book=book,
                             partial_fills=partial_fills, liquidation=liquidation)
        for spec in accounts or DEFAULT_ACCOUNTS:
            account = self.engine.add_account(Account(spec.id, spec.venue, spec.api_key,
                                                      spec.secret, Decimal(spec.balance)))
            if spec.hedge:
                account.hedge.update(self.feed.instruments)
        self.coverage = Coverage(self.engine)
        self.faults = FaultBook()
        self.latency = Latency(latency_ms, jitter_ms, seed)
        self.hub = Hub(self.faults, self.latency)
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)   # bounded for long runs
        self.tick_interval = tick_interval
        self.control = control.Control(self)
        self.bybit = bybit_ws.BybitPushes(self)
        self.binance = binance_ws.BinancePushes(self)
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app[SIM] = self
        for surface in (bybit_market, bybit_orders, bybit_account, binance_market,
                        binance_orders, binance_algo, binance_account, control_http):
            surface.setup(app)
        bybit_ws.setup(app, self)
        binance_ws.setup(app, self)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        venue = venue_of(request.path)
        if venue is None:
            return await handler(request)
        body = (await request.read()).decode() if request.can_read_body else ""
        params: dict[str, Any] = dict(parse_qsl(request.query_string, keep_blank_values=True))
        if body:
            try:
                params.update(json.loads(body))
            except ValueError:
                params.update(parse_qsl(body, keep_blank_values=True))
        record = RequestRecord(venue, request.method, request.path, params,
                               self.clock.now_ms(),
                               request.headers.get("X-BAPI-API-KEY")
                               or request.headers.get("X-MBX-APIKEY"))
        self.requests.append(record)
        request[BODY] = body
        request[RECORD] = record
        rest = request.headers.get("Upgrade", "").lower() != "websocket"
        delay = self.latency.sample() if rest else 0.0
        if delay:           # half the round trip on the way in, half on the way back
            await asyncio.sleep(delay / 2)
        if rest:
            early = await self._rest_faults(request, venue)
            if early is not None:
                record.status = early.status
                return early
        hang = self.faults.peek(FaultKind.HANG, venue, request.path)
        response = await handler(request)
        record.status = response.status
        if hang is not None and hang.after:
            await self._hang(request, self.faults.take(FaultKind.HANG, venue, request.path))
        if delay:
            await asyncio.sleep(delay / 2)
        return response

    async def _rest_faults(self, request: web.Request, venue: str) -> web.Response | None:
        path = request.path
        hang = self.faults.peek(FaultKind.HANG, venue, path)
        if hang is not None and not hang.after:
            await self._hang(request, self.faults.take(FaultKind.HANG, venue, path))
        error = self.faults.take(FaultKind.HTTP_ERROR, venue, path)
        if error is not None:
            return web.Response(status=error.status, content_type="text/html",
                                text=f"<html><body><h1>{error.status} sim fault</h1></body></html>")
        if self.faults.take(FaultKind.RATE_LIMIT, venue, path) is not None:
            return (bybit.rate_limited() if venue == "bybit" else binance.rate_limited())
        return None

    async def _hang(self, request: web.Request, fault: Any) -> None:
        """Sleep for the fault's seconds, or until the client gives up and disconnects."""
        deadline = asyncio.get_running_loop().time() + (fault.seconds if fault else 0)
        while asyncio.get_running_loop().time() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> Simulator:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        if self.tick_interval:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval or 1.0)
            self.feed.step()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await self.hub.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def urls(self) -> dict[str, Any]:
        http, ws = self.http_url, self.ws_url
        return {
            "bybit": {"rest": http, "ws_public": ws + "/v5/public/linear",
                      "ws_private": ws + "/v5/private"},
            "binance": {"rest": http, "ws": ws + "/ws",
                        "ws_private": ws + "/private/ws?listenKey=<key>",
                        "ws_market": ws + "/market/ws"},
            "control": http + "/_sim",
            "accounts": [{"id": a.id, "venue": a.venue, "api_key": a.api_key}
                         for a in self.engine.accounts.values()],
        }


class SimulatorThread:
    """A `Simulator` on its own event loop in a daemon thread, for synchronous tests.

    `thread.control.<method>(...)` runs the control method on the simulator's loop and returns
    its result, so sync code never touches the simulator state from the wrong thread.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)
        self.sim: Simulator | None = None

    def start(self) -> SimulatorThread:
        self._thread.start()
        self.sim = self.run(self._start())
        return self

    async def _start(self) -> Simulator:
        return await Simulator(**self._options).start()

    def run(self, coro: Awaitable[Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def invoke() -> Any:
            result = fn(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result
        return self.run(invoke())

    @property
    def control(self) -> _ThreadProxy:
        if self.sim is None:
            raise RuntimeError("SimulatorThread not started")
        return _ThreadProxy(self, self.sim.control)

    def stop(self) -> None:
        if self.sim is not None:
            self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ThreadProxy:
    def __init__(self, owner: SimulatorThread, target: object) -> None:
        self._owner, self._target = owner, target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return self._owner.call(lambda: getattr(self._target, name))
        return lambda *a, **kw: self._owner.call(attr, *a, **kw)
