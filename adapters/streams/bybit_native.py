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

from websockets.asyncio.client import ClientConnection

from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.streams.bybit_frames import FEED, TOPICS, ControlFrame, parse_frame
from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.native import NativeStream, StreamRefused
from warden.engine.ports import ExchangePort


def auth_message(api_key: str, secret: str, expires_ms: int) -> dict[str, Any]:
    signature = hmac.new(secret.encode(), f"GET/realtime{expires_ms}".encode(),
                         hashlib.sha256).hexdigest()
    return {"op": "auth", "args": [api_key, expires_ms, signature]}


class BybitNativeStream(NativeStream):
    feed = FEED

    def __init__(self, config: ExchangeConfig, port: ExchangePort, **options: Any) -> None:
        super().__init__(config, port, **options)
        self.url = config.ws_url.rstrip("/") + "/v5/private"
        self._req_ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future[ControlFrame]] = {}
        self._pong = asyncio.Event()

    async def _url(self) -> str:
        return self.url

    async def _handshake(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        expires = int(time.time() * 1000) + 10_000
        await self._request(ws, reader, "auth", auth_message(self.config.api_key, self.config.secret,
                                                              expires))
        for topic in TOPICS:
            await self._request(ws, reader, "subscribe",
                                {"op": "subscribe", "req_id": str(next(self._req_ids)), "args": [topic]})

    def _closed(self) -> None:
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

    def _frame(self, text: str | bytes) -> None:
        for item in parse_frame(text, self.port.venue, self.port.account):
            if isinstance(item, ControlFrame):
                self._on_control(item)
            elif isinstance(item, StreamRejection):
                self.reject(item.reason, item.raw_text)
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
        self._pong.clear()
        await ws.send(json.dumps({"req_id": str(next(self._req_ids)), "op": "ping"}))
        await asyncio.wait_for(self._pong.wait(), self.pong_timeout)
