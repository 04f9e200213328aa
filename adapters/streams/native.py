"""What the native private streams share: one `websockets` connection at a time, read, kept alive
by a heartbeat, and replaced on any failure.

`NativeStream._run` is the reconnect loop: find the URL (Binance asks for a listenKey), connect, let
the venue's handshake run (Bybit: auth and subscribe), take the REST snapshot, report CONNECTED,
then read until the connection or its heartbeat fails; back off (the backoff starts over after a
connection that got CONNECTED) and go again. Every frame read is a heartbeat for the supervisor; a
ping whose pong does not come within ``pong_timeout`` closes the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.streams import frames
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.events import Connection
from warden.adapters.streams.supervision import Backoff
from warden.engine.errors import ExchangeFailure
from warden.engine.ports import ExchangePort

MAX_FRAME_BYTES = 1 << 20  # the venues' largest private frames are a few KiB
READ_QUEUE = 1_024  # frames read but not yet parsed; beyond it the socket is not read (TCP pushes back)


class StreamRefused(Exception):
    """The venue refused the stream (auth, a subscription, a listenKey): reconnecting at once will not
    help, but the stream keeps trying with backoff and reports every refusal."""


_CONNECTION_FAILURES = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, StreamRefused,
                        ExchangeFailure, aiohttp.ClientError)


class NativeStream(PrivateStream):
    def __init__(self, config: ExchangeConfig, port: ExchangePort, *, ping_interval: float | None = None,
                 pong_timeout: float = 5.0, reply_timeout: float = 5.0,
                 backoff: Backoff | None = None, quiet_after: float | None = None) -> None:
        super().__init__(port, backoff=backoff, quiet_after=quiet_after or config.feed_quiet_s)
        self.config = config
        self.ping_interval = ping_interval or config.ws_keepalive_s
        self.pong_timeout = pong_timeout
        self.reply_timeout = reply_timeout

    # -- what a venue fills in ------------------------------------------------------------------
    async def _url(self) -> str:
        raise NotImplementedError

    async def _handshake(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        """What the venue needs before it pushes anything (nothing, for Binance)."""

    def _frame(self, text: str | bytes) -> None:
        """Handle one frame that passed `frames.screen`."""
        raise NotImplementedError

    async def _ping(self, ws: ClientConnection) -> None:
        """Send one ping and wait for its pong; TimeoutError when none comes."""
        raise NotImplementedError

    def _chores(self, ws: ClientConnection) -> list[Coroutine[Any, Any, None]]:
        """Tasks that run beside the reader while connected; one ending with an error reconnects."""
        return []

    def _closed(self) -> None:
        """Forget what belonged to the connection that ended."""

    # -- the loop ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        while True:
            self.status(Connection.CONNECTING)
            started = self.health.monotonic()
            try:
                # close_timeout: a connection torn down for silence will not answer the close
                async with connect(await self._url(), ping_interval=None, open_timeout=self.reply_timeout,
                                   close_timeout=1.0, max_size=MAX_FRAME_BYTES,
                                   max_queue=READ_QUEUE) as ws:
                    await self._connection(ws)
                reason = "closed by the server"
            except _CONNECTION_FAILURES as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, ConnectionClosed) and exc.sent is not None and exc.sent.code == 1007:
                    # the frame itself never reaches us: the protocol fails the connection
                    self.reject("protocol: invalid UTF-8 in a text frame; the connection was failed", "")
            connected = self.health.connected_at is not None and self.health.connected_at >= started
            failures = 1 if connected else failures + 1
            self.status(Connection.DISCONNECTED, reason)
            await self.wait_backoff(failures)
            self.attempt += 1

    async def _connection(self, ws: ClientConnection) -> None:
        self.heard()  # the first heartbeat is a keepalive away; the connection is news
        reader = asyncio.create_task(self._read(ws))
        tasks = [reader]
        try:
            await self._handshake(ws, reader)
            await self.resync()
            self.status(Connection.CONNECTED)
            tasks += [asyncio.create_task(chore) for chore in (self._heartbeat(ws), *self._chores(ws))]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise ConnectionClosed / TimeoutError / a refusal
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._closed()

    async def _read(self, ws: ClientConnection) -> None:
        async for text in ws:
            self.heard()
            refusal = frames.screen(self.config.venue, text)
            if refusal is None:
                self._frame(text)
            else:
                self.reject(refusal, text)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._ping(ws)
            except TimeoutError:
                await ws.close(code=4000, reason="pong timeout")
                raise TimeoutError(f"no pong within {self.pong_timeout}s") from None
