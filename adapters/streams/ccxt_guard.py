"""A guard in front of ccxt.pro's websocket message handling.

ccxt.pro handles each inbound frame inside a callback of its receive loop, and schedules the next
read only after the handler returns: one frame that makes it raise (truncated JSON, a number where
a list belongs, bytes that are not UTF-8) silently stops the receive loop, and the connection goes
deaf until ccxt's keepalive notices the missing pongs. The guard wraps each websocket client's
``handle_message`` as ccxt creates it:

* every inbound frame (data, ping or pong) tells the feed that owns the connection it is alive;
* a frame the feed's ``screen`` refuses never reaches ccxt, and is reported as a rejection;
* a frame ccxt fails on is reported as a rejection too, and the receive loop goes on.

A feed claims the connections it owns by URL (the private one carries ``/v5/private`` or the
listenKey; the others are public market data). The ccxt client object is shared by the private
stream and the mark-price stream of one account, so one guard serves several feeds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import ccxt.async_support as ccxt
from aiohttp import WSMsgType

from warden.domain.values import Venue


class FrameListener(Protocol):
    def heard(self) -> None: ...

    def screen(self, data: str | bytes) -> str | None:
        """Why a data frame must not reach ccxt, or None to let it through."""

    def reject(self, reason: str, data: str | bytes) -> None: ...


_DATA = (WSMsgType.TEXT, WSMsgType.BINARY)


def is_private_url(venue: Venue, url: str) -> bool:
    """ccxt.pro's private websocket of ``venue``: Bybit's ``/v5/private``, Binance's listenKey stream."""
    return ("/v5/private" if venue is Venue.BYBIT else "listenKey") in url


def fail_connections(client: Any, owns: Callable[[str], bool], reason: str) -> None:
    """Fail the matching websocket connections the way ccxt's own keepalive does: pending watches
    are rejected with a NetworkError, ccxt forgets the connection and closes it, and the next watch
    dials anew."""
    for url, ws in list(client.clients.items()):
        if owns(url):
            ws.on_error(ccxt.NetworkError(reason))


class FrameGuard:
    def __init__(self, client: Any) -> None:
        self.listeners: list[tuple[Callable[[str], bool], FrameListener]] = []
        create = client.client  # ccxt's own factory of websocket clients, one per URL

        def guarded_client(url: str) -> Any:
            ws = create(url)
            if not getattr(ws, "_warden_guarded", False):
                self._wrap(ws)
            return ws

        client.client = guarded_client

    @classmethod
    def of(cls, client: Any) -> FrameGuard:
        """The client's guard, installed on first use (before any websocket is opened through it)."""
        guard = client.__dict__.get("_warden_guard")
        if guard is None:
            guard = client.__dict__["_warden_guard"] = cls(client)
        return guard

    def listen(self, owns: Callable[[str], bool], listener: FrameListener) -> None:
        self.listeners.append((owns, listener))

    def forget(self, listener: FrameListener) -> None:
        self.listeners = [(owns, known) for owns, known in self.listeners if known is not listener]

    def _owner(self, url: str) -> FrameListener | None:
        return next((listener for owns, listener in self.listeners if owns(url)), None)

    def _wrap(self, ws: Any) -> None:
        handle = ws.handle_message

        def guarded(message: Any) -> None:
            owner = self._owner(ws.url)
            if owner is None:  # no feed follows this connection now; keep its receive loop alive
                with contextlib.suppress(Exception):
                    handle(message)
                return
            owner.heard()
            if message.type is WSMsgType.ERROR:  # e.g. invalid UTF-8 in a text frame: ccxt reconnects
                owner.reject(f"protocol: {message.data}", "")
            data = message.data if message.type in _DATA else None
            refusal = owner.screen(data) if data is not None else None
            if refusal is not None:
                owner.reject(refusal, data)
                return
            try:
                handle(message)
            except Exception as exc:  # ccxt choked on it: keep the receive loop alive
                owner.reject(f"ccxt: {type(exc).__name__}: {exc}", data or "")

        ws.handle_message = guarded
        ws._warden_guarded = True
