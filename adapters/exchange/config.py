"""Exchange account configuration and the one place a ccxt client is built from it.

Every venue -- mainnet, testnet, demo or the local simulator -- is reached by overriding ccxt's base
URLs (see /work/shared/reference/exchange-wire.md, "Pointing ccxt at a local base URL"), never with
``set_sandbox_mode``, which would replace the overridden URLs with ccxt's own test hosts. Building a
client opens no connection: ccxt connects lazily on the first request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from warden.domain.values import Venue

# Public base URLs, for the docs and the command line; tests use the simulator's.
KNOWN_ENDPOINTS: dict[str, tuple[str, str]] = {
    "bybit-mainnet": ("https://api.bybit.com", "wss://stream.bybit.com"),
    "bybit-testnet": ("https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com"),
    "bybit-demo": ("https://api-demo.bybit.com", "wss://stream-demo.bybit.com"),
    "binance-mainnet": ("https://fapi.binance.com", "wss://fstream.binance.com"),
    "binance-testnet": ("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
}

# The stream layer takes its own REST snapshot after every (re)connect, once subscribed; ccxt's
# snapshot is taken only on the first watch and (on Bybit) before the topic is subscribed.
_NO_SNAPSHOT = {"fetchPositionsSnapshot": False, "awaitPositionsSnapshot": False}


@dataclass(frozen=True)
class ExchangeConfig:
    """One exchange account. ``secret`` (and the key) never appear in ``repr``."""

    venue: Venue
    account: str
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    rest_url: str
    ws_url: str
    request_timeout_s: float = 10.0
    recv_window_ms: int = 10_000
    ws_keepalive_s: float = 18.0
    feed_quiet_s: float = 60.0  # a feed that hears nothing (no frame, no heartbeat) this long restarts

    @classmethod
    def for_endpoint(cls, endpoint: str, account: str, api_key: str, secret: str,
                     **kwargs: Any) -> ExchangeConfig:
        """Config for one of `KNOWN_ENDPOINTS`, e.g. ``"bybit-testnet"``."""
        rest, ws = KNOWN_ENDPOINTS[endpoint]
        venue = Venue.BYBIT if endpoint.startswith("bybit") else Venue.BINANCE
        return cls(venue=venue, account=account, api_key=api_key, secret=secret,
                   rest_url=rest, ws_url=ws, **kwargs)


def build_client(config: ExchangeConfig) -> Any:
    """A ccxt.pro client (REST and websocket in one object) pointed at ``config``'s base URLs."""
    common = {
        "apiKey": config.api_key,
        "secret": config.secret,
        "enableRateLimit": False,
        "timeout": int(config.request_timeout_s * 1000),
    }
    # Imported here, not at the top: ccxt takes over a second to import and most commands never
    # build a client.
    import ccxt.pro as ccxtpro

    rest, ws = config.rest_url.rstrip("/"), config.ws_url.rstrip("/")
    client = _bybit(ccxtpro.bybit, common, config, rest, ws) if config.venue is Venue.BYBIT else \
        _binance(ccxtpro.binanceusdm, common, config, rest, ws)
    # ccxt.pro pings each websocket every ``streaming.keepAlive`` ms (``options.keepAlive`` is not
    # read for that): Binance's own default is 180 s, far longer than a feed may stay silent.
    client.streaming = {**client.streaming, "keepAlive": int(config.ws_keepalive_s * 1000)}
    return client


def _bybit(bybit: Any, common: dict[str, Any], config: ExchangeConfig, rest: str, ws: str) -> Any:
    client = bybit({**common, "options": {
        "fetchMarkets": {"types": ["linear"]},
        # Without these two ccxt asks /v5/user/query-api and /v5/account/info first.
        "enableUnifiedAccount": True,
        "enableUnifiedMargin": False,
        "recvWindow": config.recv_window_ms,
        "adjustForTimeDifference": False,
        "watchPositions": _NO_SNAPSHOT,
    }})
    client.has["fetchCurrencies"] = False  # skips the private /v5/asset/coin/query-info
    for key in ("spot", "futures", "v2", "public", "private"):
        client.urls["api"][key] = rest
    client.urls["api"]["ws"] = {
        "public": {kind: f"{ws}/v5/public/{kind}" for kind in ("linear", "spot", "inverse", "option")},
        "private": {
            "contract": f"{ws}/v5/private",
            "spot": {"unified": f"{ws}/v5/private", "nonUnified": f"{ws}/spot/private/v3"},
            "usdc": f"{ws}/trade/option/usdc/private/v1",
            "trade": f"{ws}/v5/trade",
        },
    }
    return client


def _binance(binanceusdm: Any, common: dict[str, Any], config: ExchangeConfig, rest: str,
             ws: str) -> Any:
    client = binanceusdm({**common, "options": {
        # Otherwise ccxt calls api.binance.com/sapi/v1/capital/config/getall: the internet.
        "fetchCurrencies": False,
        "fetchOpenOrders": {"warnWithoutSymbol": False},
        "watchPositions": _NO_SNAPSHOT,
        "recvWindow": config.recv_window_ms,
        "adjustForTimeDifference": False,
    }})
    for key, url in list(client.urls["api"].items()):
        if key.startswith("fapi"):
            client.urls["api"][key] = url.replace("https://fapi.binance.com", rest)
    client.urls["api"]["ws"]["linear"] = f"{ws}/ws"
    return client
