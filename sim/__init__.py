"""The wire-level simulated exchange: Bybit v5 (linear) and Binance USD-M over loopback.

Unmodified ccxt (sync, async and pro) talks to it as if it were the real venue. Start it with
`Simulator` (async context manager) or `SimulatorThread` (background thread); point ccxt at it
with `ccxt_overrides` / `make_exchange`. See docs/simulator.md.
"""

from __future__ import annotations

import copy
from typing import Any

from .faults import Fault, FaultKind
from .market import ManualClock, SystemClock
from .server import AccountSpec, Simulator, SimulatorThread

__all__ = ["AccountSpec", "Fault", "FaultKind", "ManualClock", "Simulator", "SimulatorThread",
           "SystemClock", "apply_urls", "ccxt_config", "make_exchange"]

BYBIT_OPTIONS = {"fetchMarkets": {"types": ["linear"]}, "enableUnifiedAccount": True,
                 "enableUnifiedMargin": False, "recvWindow": 10000,
                 "adjustForTimeDifference": False}
BINANCE_OPTIONS = {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}


def _base_urls(sim: Simulator | SimulatorThread | str) -> tuple[str, str]:
    if isinstance(sim, SimulatorThread):
        sim = sim.sim  # type: ignore[assignment]
    if isinstance(sim, Simulator):
        return sim.http_url, sim.ws_url
    http = str(sim).rstrip("/")
    return http, "ws" + http[4:]


def ccxt_config(venue: str, api_key: str, secret: str, **extra: Any) -> dict[str, Any]:
    """Constructor config for `ccxt[.async_support|.pro].bybit` / `.binanceusdm`.

    `extra` is merged in (its "options" merged into the venue options).
    """
    options = copy.deepcopy(BYBIT_OPTIONS if venue == "bybit" else BINANCE_OPTIONS)
    options.update(extra.pop("options", {}))
    return {"apiKey": api_key, "secret": secret, "enableRateLimit": False,
            "options": options, **extra}


def apply_urls(exchange: Any, sim: Simulator | SimulatorThread | str) -> Any:
    """Point an already built ccxt exchange entirely at the simulator (no outside address)."""
    http, ws = _base_urls(sim)
    api = exchange.urls["api"]
    if exchange.id == "bybit":
        exchange.has["fetchCurrencies"] = False
        for key in ("spot", "futures", "v2", "public", "private"):
            api[key] = http
        public = ws + "/v5/public/linear"
        private = ws + "/v5/private"
        api["ws"] = {"public": {"linear": public, "spot": public, "inverse": public,
                                "option": public},
                     "private": {"contract": private, "usdc": private, "trade": ws + "/v5/trade",
                                 "spot": {"unified": private, "nonUnified": private}}}
    elif exchange.id == "binanceusdm":
        for key in list(api):
            if key.startswith("fapi") and isinstance(api[key], str):
                api[key] = api[key].replace("https://fapi.binance.com", http)
        if isinstance(api.get("ws"), dict):
            api["ws"]["linear"] = ws + "/ws"
    else:
        raise ValueError(f"the simulator speaks bybit and binanceusdm, not {exchange.id}")
    return exchange


def make_exchange(module: Any, venue: str, sim: Simulator | SimulatorThread | str,
                  api_key: str | None = None, secret: str | None = None, **extra: Any) -> Any:
    """Build and point a ccxt exchange: `make_exchange(ccxt.pro, "bybit", sim)`.

    `module` is `ccxt`, `ccxt.async_support` or `ccxt.pro`; keys default to the simulator's
    default account for the venue.
    """
    name = "bybit" if venue == "bybit" else "binanceusdm"
    short = "bybit" if venue == "bybit" else "binance"
    config = ccxt_config(short, api_key or f"{short}-key", secret or f"{short}-secret", **extra)
    return apply_urls(getattr(module, name)(config), sim)
