"""The native Bybit v5 private stream on the ``websockets`` library, like the seed bot's.

One connection to ``<ws>/v5/private``: ``auth`` (HMAC of ``"GET/realtime" + expires``; the ack must
say success), one ``subscribe`` per topic (position, order, execution), a text ``ping`` every
``ws_keepalive_s`` (a websocket-level pong does not count on Bybit; a ping left unanswered closes the
connection), and on any failure a reconnect with exponential backoff and jitter, re-authentication,
resubscription and a REST positions snapshot. The supervisor restarts a session that ends or hears
nothing for ``feed_quiet_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.bybit_frames import FEED, TOPICS, ControlFrame, parse_frame
from warden.adapters.streams.events import Connection, StreamRejection
from warden.adapters.streams.supervision import Backoff
from warden.engine.errors import ExchangeFailure
from warden.engine.ports import ExchangePort


class StreamRefused(Exception):
    """Bybit refused the auth or a subscription: reconnecting with the same key will not help
    immediately, but the stream keeps trying with backoff and reports every refusal."""


def auth_message(api_key: str, secret: str, expires_ms: int) -> dict[str, Any]:
    signature = hmac.new(secret.encode(), f"GET/realtime{expires_ms}".encode(),
                         hashlib.sha256).hexdigest()
    return {"op": "auth", "args": [api_key, expires_ms, signature]}


class BybitNativeStream(PrivateStream):
    feed = FEED

    def __init__(self, config: ExchangeConfig, port: ExchangePort, *, ping_interval: float | None = None,
                 pong_timeout: float = 5.0, reply_timeout: float = 5.0,
                 backoff: Backoff | None = None, quiet_after: float | None = None) -> None:
        super().__init__(port, backoff=backoff, quiet_after=quiet_after or config.feed_quiet_s)
        self.config = config
        self.url = config.ws_url.rstrip("/") + "/v5/private"
        self.ping_interval = ping_interval or config.ws_keepalive_s
        self.pong_timeout = pong_timeout
        self.reply_timeout = reply_timeout
        self._req_ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future[ControlFrame]] = {}
        self._pong = asyncio.Event()

    async def _run(self) -> None:
        failures = 0
        while True:
            self.status(Connection.CONNECTING)
            try:
                # close_timeout: a connection torn down for silence will not answer the close
                async with connect(self.url, ping_interval=None, open_timeout=self.reply_timeout,
                                   close_timeout=1.0, max_queue=None) as ws:
                    await self._session(ws)
                reason = "closed by the server"
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, StreamRefused,
                    ExchangeFailure) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            failures += 1
            self.status(Connection.DISCONNECTED, reason)
            await self.wait_backoff(failures)
            self.attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._read(ws))
        pinger: asyncio.Task[None] | None = None
        try:
            expires = int(time.time() * 1000) + 10_000
            await self._request(ws, reader, "auth", auth_message(self.config.api_key,
                                                                  self.config.secret, expires))
            for topic in TOPICS:
                await self._request(ws, reader, "subscribe",
                                    {"op": "subscribe", "req_id": str(next(self._req_ids)),
                                     "args": [topic]})
            await self.resync()
            self.status(Connection.CONNECTED)
            pinger = asyncio.create_task(self._ping(ws))
            done, _ = await asyncio.wait({reader, pinger}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise ConnectionClosed / TimeoutError from the reader or pinger
        finally:
            for task in (reader, pinger):
                if task is not None:
                    task.cancel()
            await asyncio.gather(reader, *(t for t in (pinger,) if t), return_exceptions=True)
            for future in self._replies.values():
                future.cancel()
            self._replies.clear()

    async def _request(self, ws: ClientConnection, reader: asyncio.Task[None], op: str,
                       message: dict[str, Any]) -> None:
        """Send ``message`` and wait for its ``op`` answer; a refusal raises `StreamRefused`."""
        future: asyncio.Future[ControlFrame] = asyncio.get_running_loop().create_future()
        self._replies[op] = future
        await ws.send(json.dumps(message))
        done, _ = await asyncio.wait({future, reader}, timeout=self.reply_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            reader.result()
        if future not in done:
            raise TimeoutError(f"no answer to {op} within {self.reply_timeout}s")
        reply = future.result()
        if not reply.success:
            raise StreamRefused(f"{op} refused: {reply.message or reply.raw}")

    async def _read(self, ws: ClientConnection) -> None:
        async for text in ws:
            self.heard()
            for item in parse_frame(text, self.port.venue, self.port.account):
                if isinstance(item, ControlFrame):
                    self._on_control(item)
                elif isinstance(item, StreamRejection):
                    self.queue.put_nowait(item)
                else:
                    self.emit(item)

    def _on_control(self, frame: ControlFrame) -> None:
        if frame.op in ("pong", "ping"):  # Bybit answers a text ping with op "pong" (or "ping")
            self._pong.set()
            return
        future = self._replies.pop(frame.op, None)
        if future is not None and not future.done():
            future.set_result(frame)

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            self._pong.clear()
            await ws.send(json.dumps({"req_id": str(next(self._req_ids)), "op": "ping"}))
            try:
                await asyncio.wait_for(self._pong.wait(), self.pong_timeout)
            except TimeoutError:
                await ws.close(code=4000, reason="pong timeout")
                raise TimeoutError(f"no pong within {self.pong_timeout}s") from None
