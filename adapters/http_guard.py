"""Connection limits for an aiohttp server facing the internet: a cap on open connections (in
total and per source address) and deadlines for clients that dawdle.

aiohttp closes an idle keep-alive connection only after an hour and has no deadline at all for a
request's headers, so a client that opens connections and sends its headers a byte at a time holds
a file descriptor each for as long as it likes (1,100 of them took the process's 1,024, and with
them the health endpoint and every exchange call). `ConnectionGuard` wraps each connection's
protocol:

- over the cap (``max_connections``, or ``max_per_source`` from one address) a new connection is
  closed at once, before aiohttp sees it;
- a connection has ``header_timeout`` seconds from its first byte (or from its opening) until its
  request's headers are complete and the handler runs, else it is aborted;
- between requests it may stay idle ``idle_timeout`` seconds.

Reading the body within a deadline is the handler's part (the intake knows its limits). `GuardedSite`
listens like aiohttp's `TCPSite`; `middleware` tells the guard when a request reached its handler.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from warden.adapters.intake_limits import source_of

log = logging.getLogger("warden.http")

WAITING, HANDLING = "waiting", "handling"  # a connection awaiting a request, or inside one


class ConnectionGuard:
    def __init__(self, *, max_connections: int, max_per_source: int, header_timeout: float,
                 idle_timeout: float) -> None:
        self.max_connections, self.max_per_source = max_connections, max_per_source
        self.header_timeout, self.idle_timeout = header_timeout, idle_timeout
        self.open: dict[Any, _Guarded] = {}  # by transport
        self.per_source: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()  # why: over_cap, slow_headers, idle

    def counters(self) -> dict[str, Any]:
        return {"open": len(self.open), "closed": dict(self.closed)}

    def protocol_factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, inner())

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        connection = self.open.get(request.transport)
        if connection is not None:
            connection.handling()
        try:
            return await handler(request)
        finally:
            if connection is not None:
                connection.waiting(self.idle_timeout)

    def _admit(self, connection: _Guarded) -> bool:
        if len(self.open) >= self.max_connections or \
                self.per_source[connection.source] >= self.max_per_source:
            self.closed["over_cap"] += 1
            return False
        self.open[connection.transport] = connection
        self.per_source[connection.source] += 1
        return True

    def _release(self, connection: _Guarded) -> None:
        self.open.pop(connection.transport, None)
        self.per_source[connection.source] -= 1
        if self.per_source[connection.source] <= 0:
            del self.per_source[connection.source]


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, passed every call, plus this connection's deadline."""

    def __init__(self, guard: ConnectionGuard, inner: Any) -> None:
        self.guard, self.inner = guard, inner
        self.transport: Any = None
        self.source = "unknown"
        self.admitted = False
        self.state = WAITING
        self.idle = False  # waiting, and no byte of the next request yet
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.source = source_of(peer[0] if isinstance(peer, tuple) else None)
        if not self.guard._admit(self):
            transport.abort()
            return
        self.admitted = True
        self.inner.connection_made(transport)
        # a client sends its first request as it connects: its headers are due from now
        self.idle = False
        self._arm(self.guard.header_timeout, "slow_headers")

    def data_received(self, data: bytes) -> None:
        if self.state == WAITING and self.idle:  # the first byte of a request: headers are due
            self.idle = False
            self._arm(self.guard.header_timeout, "slow_headers")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.admitted:
            self.guard._release(self)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def handling(self) -> None:
        self.state = HANDLING
        self._disarm()

    def waiting(self, seconds: float) -> None:
        self.state, self.idle = WAITING, True
        self._arm(seconds, "idle")

    def _arm(self, seconds: float, why: str) -> None:
        self._disarm()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expire, why)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self, why: str) -> None:
        self.timer = None
        if self.state == WAITING and self.transport is not None and not self.transport.is_closing():
            self.guard.closed[why] += 1
            self.transport.abort()


class GuardedSite(web.BaseSite):
    """`web.TCPSite` (``host``, ``port``) or `web.SockSite` (``sock``, bound beforehand), with every
    connection's protocol wrapped by ``guard``."""

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, *, host: str | None = None,
                 port: int | None = None, sock: socket.socket | None = None, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port, self._sock, self._guard = host, port, sock, guard

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2] if self._sock else (self._host, self._port)
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("call runner.setup() before starting a site")
        where = {"sock": self._sock} if self._sock else {"host": self._host, "port": self._port}
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), backlog=self._backlog, **where)
