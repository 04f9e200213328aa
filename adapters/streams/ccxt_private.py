"""Private position / order / execution streams through ccxt.pro, for Bybit and Binance USD-M.

Three watchers loop on ``watch_positions``, ``watch_orders`` and ``watch_my_trades``. ccxt.pro does
not reconnect on its own: when the server closes, the pending watches fail with a NetworkError and
the *next* watch call dials, re-authenticates (Binance: a listenKey) and re-subscribes. Its caches
survive, so nothing re-fetches positions. Here the session notices the break, waits until the
new private connection is up, and takes the REST positions snapshot (`PrivateStream.resync`). When
the session itself fails (the snapshot cannot be taken during a REST outage) the supervisor tears
the private connection down and starts a new session. A `FrameGuard` sees every frame first: it
keeps the feed's heartbeat and keeps a frame ccxt chokes on from stopping ccxt's receive loop.

ccxt.pro also returns *live references* into its position cache: when two position pushes arrive
before the watcher runs again, the dict it returned for the first is overwritten by the second. A
newer update followed by an older one (out of order) is thereby lost inside ccxt, and the stale one
is all the stream sees. So every burst of position pushes is verified by a REST read
``verify_after`` seconds later (`PrivateStream.verify`), emitting only what differs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt.async_support as ccxt

from warden.adapters.exchange import normalize
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.streams import frames
from warden.adapters.streams.base import PrivateStream
from warden.adapters.streams.bybit_frames import is_trade_execution
from warden.adapters.streams.ccxt_guard import FrameGuard, fail_connections, is_private_url
from warden.adapters.streams.events import Connection, Report
from warden.adapters.streams.supervision import Backoff
from warden.domain.values import ReportSource, Venue
from warden.engine.errors import ExchangeFailure

Watch = Callable[[], Awaitable[list[dict[str, Any]]]]


class CcxtPrivateStream(PrivateStream):
    feed = "ccxt-pro"

    def __init__(self, exchange: CcxtExchange, *, settle: float = 0.2, verify_after: float = 0.5,
                 backoff: Backoff | None = None, quiet_after: float | None = None) -> None:
        super().__init__(exchange, backoff=backoff,
                         quiet_after=quiet_after or exchange.config.feed_quiet_s)
        self.exchange = exchange
        self.client = exchange.client
        self.settle = settle  # lets the subscribe frames reach the venue before the snapshot
        self.verify_after = verify_after
        self._verifier: asyncio.Task[None] | None = None
        self._failed = asyncio.Event()  # a watch failed: the connection broke or could not be made
        self._next_attempt = asyncio.Event()  # set when the watchers may dial again
        self._authenticated = asyncio.Event()  # Bybit acknowledged the auth of this connection
        self._reason = ""
        FrameGuard.of(self.client).listen(self.owns, self)

    def owns(self, url: str) -> bool:
        return is_private_url(self.exchange.config.venue, url)

    def screen(self, data: str | bytes) -> str | None:
        refusal = frames.screen(self.exchange.config.venue, data)
        if refusal is None and _is_auth_ack(data):
            self._authenticated.set()
        return refusal

    async def _run(self) -> None:
        self.status(Connection.CONNECTING)
        await self.exchange.unified_markets()
        self._failed.clear()
        watchers = [
            asyncio.create_task(self._watch("position", self.client.watch_positions, self._position)),
            asyncio.create_task(self._watch("order", self.client.watch_orders, self._order)),
            asyncio.create_task(self._watch("execution", self.client.watch_my_trades, self._fill)),
        ]
        previous: object = None
        failures = 0
        try:
            while True:
                previous = await self._connected(previous)
                if previous is not None and await self._authenticated_in_time():
                    await asyncio.sleep(self.settle)
                    await self.resync()
                    self.status(Connection.CONNECTED)
                    failures = 0
                    self._verify_soon()  # a push between the snapshot and the last watcher's return
                    await self._failed.wait()
                failures += 1
                self.status(Connection.DISCONNECTED, self._reason)
                self.attempt += 1
                await self.wait_backoff(failures)
                self._release()
        finally:
            tasks = [*watchers, *([self._verifier] if self._verifier else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _release(self) -> None:
        """Let the watchers dial again, all at once: none may still sleep in a backoff of its own
        while the others are connected, or the pushes it watches would pass unseen."""
        self._failed.clear()
        self._authenticated.clear()
        self._next_attempt.set()
        self._next_attempt = asyncio.Event()

    async def _authenticated_in_time(self) -> bool:
        """Bybit: the auth of the new connection was acknowledged (without it the subscriptions
        never start and the feed would look connected while deaf); if not, fail the connection.
        Binance authenticates by the listenKey in the URL: connected is authenticated."""
        if self.exchange.config.venue is not Venue.BYBIT:
            return True
        timeout = self.exchange.config.request_timeout_s
        try:
            await asyncio.wait_for(self._authenticated.wait(), timeout)
            return True
        except TimeoutError:
            fail_connections(self.client, self.owns, f"no answer to auth within {timeout:g}s")
            self._reason = f"no answer to auth within {timeout:g}s"
            return False

    async def _reset(self) -> None:
        fail_connections(self.client, self.owns, f"{self.feed} session restarted")
        self._forget_listen_key()

    async def _connected(self, previous: object) -> object | None:
        """The ccxt private websocket client once connected (not the one that broke), or None when
        a watch failed first: the dial itself failed (a REST outage keeps Binance from a listenKey)."""
        while not self._failed.is_set():
            for url, client in list(self.client.clients.items()):
                if not self.owns(url) or client is previous:
                    continue
                connected = client.connected
                if connected.done() and not connected.cancelled() and connected.exception() is None:
                    self.heard()  # the first heartbeat is a keepalive away; the connection is news
                    return client
            await asyncio.sleep(0.02)
        return None

    async def _watch(self, name: str, watch: Callable[[], Awaitable[list[dict[str, Any]]]],
                     parse: Callable[[dict[str, Any]], Report | None]) -> None:
        while True:
            attempt = self._next_attempt
            try:
                items = await watch()
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                # AuthenticationError (an expired listenKey) lands here too: the next watch
                # asks for a new key.
                self._reason = f"{name}: {type(exc).__name__}: {exc}"
                self._forget_listen_key()
                self._failed.set()
                await attempt.wait()  # the session backs off, then releases every watcher together
                continue
            for item in items:
                try:
                    report = parse(item)
                except (ValueError, KeyError, TypeError) as exc:
                    self.reject(f"report: bad {name} item: {exc}", json.dumps(item.get("info"), default=str))
                    continue
                if report is not None:
                    self.emit(report)
            if name == "position" and items:
                self._verify_soon()

    def _forget_listen_key(self) -> None:
        """Make ccxt POST /fapi/v1/listenKey on the next watch (Binance).

        ccxt re-dials with the listenKey it already has until its 20-minute refresh is due; after
        an expiry that key is dead and every reconnect fails. Binance answers the POST with the
        current key while it is still valid, so asking again after any break costs nothing.
        """
        for options in self.client.options.values():
            if isinstance(options, dict) and "lastAuthenticatedTime" in options:
                options["lastAuthenticatedTime"] = 0

    def _verify_soon(self) -> None:
        """Debounced: one REST verification after the last of a burst of position pushes."""
        if self._verifier is not None:
            self._verifier.cancel()

        async def later() -> None:
            await asyncio.sleep(self.verify_after)
            try:
                await self.verify()
            except ExchangeFailure as exc:  # the next burst, resync or reconcile tries again
                self.health.last_error = f"position verification failed: {exc}"
        self._verifier = asyncio.create_task(later())

    def _position(self, item: dict[str, Any]) -> Report:
        # Binance's user-data ``P`` items carry no time: ccxt stamps them with the event time.
        return normalize.parse_position(self.exchange.venue, self.exchange.account, item,
                                        ReportSource.WEBSOCKET, event_time_ms=item.get("timestamp"))

    def _order(self, item: dict[str, Any]) -> Report:
        return normalize.parse_order(self.exchange.venue, item)

    def _fill(self, item: dict[str, Any]) -> Report | None:
        if not is_trade_execution(item.get("info") or {}):
            return None
        return normalize.parse_fill(self.exchange.venue, item)


def _is_auth_ack(data: str | bytes) -> bool:
    """Bybit's answer to a successful ``auth``: ``{"op": "auth", "success": true, ...}``."""
    if not isinstance(data, str) or '"auth"' not in data:
        return False
    try:
        frame = json.loads(data)
    except ValueError:
        return False
    return isinstance(frame, dict) and frame.get("op") == "auth" and (
        frame.get("success") is True or frame.get("retCode") == 0)
