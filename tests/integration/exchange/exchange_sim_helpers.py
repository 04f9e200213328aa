"""Helpers shared by the exchange integration tests: accounts, config and simulator state reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.streams.base import PrivateStream
from warden.domain.values import Venue
from warden.sim.server import Simulator

# warden venue -> (simulator account id, api key, secret)
ACCOUNTS = {Venue.BYBIT: ("bybit", "bybit-key", "bybit-secret"),
            Venue.BINANCE: ("binance", "binance-key", "binance-secret")}
SYMBOL = "BTCUSDT"
QTY = Decimal("0.010")


def make_config(sim: Simulator, venue: Venue, *, timeout_s: float = 2.0) -> ExchangeConfig:
    account, key, secret = ACCOUNTS[venue]
    return ExchangeConfig(venue=venue, account=account, api_key=key, secret=secret,
                          rest_url=sim.http_url, ws_url=sim.ws_url, request_timeout_s=timeout_s)


def sim_account(venue: Venue) -> str:
    return ACCOUNTS[venue][0]


def sim_position(sim: Simulator, venue: Venue, symbol: str = SYMBOL) -> dict | None:
    positions = sim.control.state(sim_account(venue))["positions"]
    return next((p for p in positions if p["symbol"] == symbol), None)


def stall(sim: Simulator, venue: str) -> int:
    """The venue's end of every private connection stops reading: no pong, no ack -- the socket
    stays open and silent, like a connection lost in a dead NAT or a hung gateway."""
    private = [s for s in sim.hub.of(venue) if s.account is not None]
    for session in private:
        session.request.transport.pause_reading()
    return len(private)


def sim_stops(sim: Simulator, venue: Venue) -> list[dict]:
    return sim.control.state(sim_account(venue))["stops"]


async def until(stream: PrivateStream, done: Callable[[object], bool],
                timeout: float = 5.0) -> list[object]:
    """Stream events up to and including the first one for which ``done`` is true."""
    seen: list[object] = []
    deadline = time.monotonic() + timeout
    while True:
        event = await stream.next_event(max(deadline - time.monotonic(), 0.01))
        seen.append(event)
        if done(event):
            return seen


def is_a(kind: type, **match: object) -> Callable[[object], bool]:
    """A predicate for `until`: an event of ``kind`` whose attributes equal ``match``."""
    return lambda e: isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
