"""The native Binance USD-M user-data stream on the ``websockets`` library: compare mode's second
opinion beside ccxt.pro on Binance, written from the venue's documentation, not from ccxt.

Each connection asks for a listenKey (``POST /fapi/v1/listenKey``, API key only; Binance answers
with the live key if there is one) and reads ``<ws>/ws/<listenKey>``: no auth or subscribe message.
The key is kept alive with ``PUT /fapi/v1/listenKey`` every ``refresh_s`` (Binance: every 60 minutes
at the latest); a refused keepalive (-1125, the key expired) or a ``listenKeyExpired`` event means a
new connection with a new key. Heartbeat: a websocket ping every ``ws_keepalive_s``, its pong within
``pong_timeout``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection

from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.streams.binance_frames import FEED, ListenKeyExpired, parse_frame
from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.native import NativeStream, StreamRefused
from warden.engine.ports import ExchangePort

LISTEN_KEY_PATH = "/fapi/v1/listenKey"


class BinanceNativeStream(NativeStream):
    feed = FEED

    def __init__(self, config: ExchangeConfig, port: ExchangePort, *, refresh_s: float = 30 * 60,
                 **options: Any) -> None:
        super().__init__(config, port, **options)
        self.refresh_s = refresh_s
        self._expired: asyncio.Future[None] | None = None

    async def _url(self) -> str:
        answer = await self._listen_key("POST")
        key = answer.get("listenKey")
        if not isinstance(key, str) or not key.isalnum():
            raise StreamRefused(f"listenKey: no key in {answer!r:.200}")
        self._expired = asyncio.get_running_loop().create_future()
        return f"{self.config.ws_url.rstrip('/')}/ws/{key}"

    def _frame(self, text: str | bytes) -> None:
        for item in parse_frame(text, self.port.venue, self.port.account):
            if isinstance(item, ListenKeyExpired):
                if self._expired is not None and not self._expired.done():
                    self._expired.set_result(None)
            elif isinstance(item, StreamRejection):
                self.reject(item.reason, item.raw_text)
            else:
                self.emit(item)

    async def _ping(self, ws: ClientConnection) -> None:
        pong = await ws.ping()
        await asyncio.wait_for(pong, self.pong_timeout)
        self.heard()  # the reader never sees websocket-level pongs

    def _chores(self, ws: ClientConnection) -> list[Coroutine[Any, Any, None]]:
        return [self._keep_key_alive(), self._until_expired()]

    async def _keep_key_alive(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self._listen_key("PUT")

    async def _until_expired(self) -> None:
        if self._expired is not None:  # set by _url before every connection
            await self._expired
        raise StreamRefused("listenKeyExpired: the venue ended the stream")

    async def _listen_key(self, method: str) -> dict[str, Any]:
        """``POST`` (a key) or ``PUT`` (keep it alive); a refusal raises `StreamRefused`."""
        url = self.config.rest_url.rstrip("/") + LISTEN_KEY_PATH
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.request(method, url, headers={"X-MBX-APIKEY": self.config.api_key}) as answer:
            text = await answer.text()
            if answer.status != 200:
                raise StreamRefused(f"{method} listenKey: HTTP {answer.status} {text[:200]}")
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise StreamRefused(f"{method} listenKey: {exc}") from None
        return body if isinstance(body, dict) else {}
