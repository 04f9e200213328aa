"""The config never shows its secret and points every ccxt URL at the configured base."""

from __future__ import annotations

import asyncio

from warden.adapters.exchange.config import ExchangeConfig, build_client
from warden.domain.values import Venue

HTTP, WS = "http://127.0.0.1:9", "ws://127.0.0.1:9"


def config(venue: Venue) -> ExchangeConfig:
    return ExchangeConfig(venue=venue, account="main", api_key="KEY-123", secret="SECRET-456",
                          rest_url=HTTP, ws_url=WS)


def test_repr_never_shows_the_secret_or_key() -> None:
    text = repr(config(Venue.BYBIT)) + str(config(Venue.BINANCE))
    assert "SECRET-456" not in text and "KEY-123" not in text and "main" in text


def test_bybit_rest_and_ws_urls_point_at_the_base() -> None:
    client = build_client(config(Venue.BYBIT))
    try:
        assert all(client.urls["api"][k] == HTTP for k in ("spot", "futures", "v2", "public", "private"))
        assert client.urls["api"]["ws"]["private"]["contract"] == WS + "/v5/private"
        assert client.urls["api"]["ws"]["public"]["linear"] == WS + "/v5/public/linear"
        assert client.has["fetchCurrencies"] is False
    finally:
        asyncio.run(client.close())


def test_binance_fapi_urls_point_at_the_base_and_nothing_else_is_needed() -> None:
    client = build_client(config(Venue.BINANCE))
    try:
        fapi = {k: v for k, v in client.urls["api"].items() if k.startswith("fapi")}
        assert fapi and all(v.startswith(HTTP + "/") for v in fapi.values())
        assert client.urls["api"]["ws"]["linear"] == WS + "/ws"
        assert client.options["fetchCurrencies"] is False
    finally:
        asyncio.run(client.close())


def test_known_endpoints_pick_the_venue() -> None:
    cfg = ExchangeConfig.for_endpoint("binance-testnet", "t", "k", "s")
    assert cfg.venue is Venue.BINANCE and cfg.rest_url.startswith("https://testnet.binancefuture")
