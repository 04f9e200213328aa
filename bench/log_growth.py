"""How fast the event log grows at the load of issue 8: bytes per hour, per position and price.

The real engine against the simulator over loopback (real ccxt), on a real store: ``accounts``
accounts on each venue, each holding one long per symbol (4 symbols x 2 venues: 5 accounts are 40
positions, 12 are 96), then every symbol's price changing 10 times a second for ``seconds``,
given to the engine as the service's mark feed gives it (one call per tick, in order, per venue),
and to the simulator so the venue's stops are checked against the same price. Each tick carries
a Bybit linear ticker as its venue payload, the size a real one has (about 550 bytes), for an
engine that records it.

The figures: the events and bytes appended while the prices run (the stored ``topic`` and
``state`` plus 24 bytes of id and version per event: what an export holds) and the growth of the
database (SQLite on a file, or a throwaway PostgreSQL database with ``--pg-dsn``), both scaled to
an hour of prices. The script only uses what the engine has had since before
the price tape (``Engine.on_mark``; ``raw`` when it still takes one), so the same file measures
an older checkout too (docs/performance.md, "Log growth", says how).

    .venv/bin/python -m bench.log_growth [--accounts 5] [--seconds 20] [--drift 0] [--pg-dsn URL]

``--drift`` is the price's trend in percent per minute (0: a random walk; 3: a market that runs
up, so every position activates its trailing stop and moves it: the most decisions there are).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit

from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.store import open_store
from warden.domain.values import Venue
from warden.engine.context import EngineConfig
from warden.engine.core import Engine
from warden.engine.ports import StopMode
from warden.sim.server import AccountSpec, Simulator

SYMBOLS = {"BTCUSDT": ("60000", "0.001"), "ETHUSDT": ("3000", "0.01"),
           "10000SATSUSDT": ("0.0002345", "100000"), "SHIB1000USDT": ("0.012345", "1000")}
VENUES = {"bybit": (Venue.BYBIT, "bybit"), "binanceusdm": (Venue.BINANCE, "binance")}
TICKS_PER_SECOND = 10


def ticker(symbol: str, price: Decimal) -> dict[str, str]:
    """A Bybit v5 linear ticker as the venue pushes it (the fields and sizes of a real one)."""
    p = str(price)
    return {"symbol": symbol, "tickDirection": "PlusTick", "price24hPcnt": "0.017103", "lastPrice": p,
            "prevPrice24h": p, "highPrice24h": p, "lowPrice24h": p, "prevPrice1h": p, "markPrice": p,
            "indexPrice": p, "openInterest": "49638.486", "openInterestValue": "2978309160.00",
            "turnover24h": "4107637011.6543", "volume24h": "68530.7790", "nextFundingTime": "1764518400000",
            "fundingRate": "0.0001", "bid1Price": p, "bid1Size": "3.183", "ask1Price": p,
            "ask1Size": "0.021", "deliveryTime": "0", "basisRate": "", "deliveryFeeRate": "",
            "predictedDeliveryPrice": "", "preOpenPrice": "", "preQty": "", "curPreListingPhase": ""}


async def measure(accounts: int, seconds: float, drift: float, seed: int = 8,
                  pg_url: str | None = None) -> dict[str, object]:
    """With ``pg_url`` (a database of its own) the store is PostgreSQL, else SQLite on a file."""
    rng = random.Random(seed)
    specs = [AccountSpec(f"{short}{k}", short, f"{short}{k}-key", f"{short}{k}-secret",
                         balance=Decimal(10_000_000))
             for _, short in VENUES.values() for k in range(accounts)]
    if pg_url is None:
        path = os.path.join(tempfile.mkdtemp(prefix="warden-log-growth-"), "log.sqlite3")
        store, size = open_store(f"sqlite:///{path}"), (lambda: _size(path))
    else:
        store, size = open_store(pg_url), (lambda: _pg_size(pg_url))
    async with Simulator(accounts=specs) as sim:
        for symbol, (price, _) in SYMBOLS.items():
            sim.control.set_price(symbol, price)
        ports = {}
        for venue, (enum, short) in VENUES.items():
            for k in range(accounts):
                account = f"{short}{k}"
                ports[venue, account] = CcxtExchange(ExchangeConfig(
                    venue=enum, account=account, api_key=f"{account}-key", secret=f"{account}-secret",
                    rest_url=sim.http_url, ws_url=sim.ws_url, request_timeout_s=5.0),
                    poll_interval=0.05, stop_mode=StopMode.POSITION if enum is Venue.BYBIT
                    else StopMode.CONDITIONAL)
        engine = Engine(store, ports, config=EngineConfig(retry_delay_s=0.05))
        await engine.start()
        for (venue, account) in ports:
            for symbol, (_, qty) in SYMBOLS.items():
                outcome = await engine.submit({"signal_id": f"{account}-{symbol}", "exchange": venue,
                                               "account": account, "symbol": symbol, "side": "long",
                                               "quantity": qty})
                assert outcome.status == "accepted", outcome
        await engine.idle()
        positions = len(engine.positions)
        first = store.recorder.max_notification_id()
        size_before = size()
        takes_raw = "raw" in inspect.signature(engine.on_mark).parameters
        prices = {s: Decimal(p) for s, (p, _) in SYMBOLS.items()}
        step = drift / 100 / 60 / TICKS_PER_SECOND  # the trend per tick, as a fraction
        ticks, started = 0, time.monotonic()
        for n in range(int(seconds * TICKS_PER_SECOND)):
            for symbol in SYMBOLS:
                move = Decimal(str(1 + step + rng.gauss(0, 0.0001)))  # 0.01 % a tick, 0.03 % a second
                prices[symbol] = price = _on_tick(prices[symbol] * move, symbol)
                sim.control.set_price(symbol, str(price))
                for venue in VENUES:
                    extra = {"raw": ticker(symbol, price)} if takes_raw else {}
                    await engine.on_mark(venue, symbol, price, at=engine.ctx.now(), **extra)
                    ticks += 1
            await asyncio.sleep(max(0.0, started + (n + 1) / TICKS_PER_SECOND - time.monotonic()))
        elapsed = time.monotonic() - started
        await engine.idle()
        behind = time.monotonic() - started - seconds
        counts: Counter[str] = Counter()
        stored = 0
        for notification in store.stored_notifications(start=first + 1):
            counts[notification.topic.rsplit(":", 1)[1]] += 1
            stored += len(notification.topic) + len(notification.state) + 24
        await engine.stop()
        growth = size() - size_before
        for port in ports.values():
            await port.close()
    store.close()
    hour = 3600 / seconds
    return {"positions": positions, "seconds": seconds, "drift_pct_per_min": drift,
            "ticks": ticks, "events": sum(counts.values()), "events_by_topic": dict(counts.most_common()),
            "log_bytes": stored, "log_bytes_per_hour": round(stored * hour),
            "database_growth_per_hour": round(growth * hour), "backend": "sqlite" if pg_url is None
            else "postgresql",
            "bytes_per_event": round(stored / max(1, sum(counts.values()))),
            "feed_seconds": round(elapsed, 2), "settled_after_s": round(max(0.0, behind), 2)}


def _on_tick(price: Decimal, symbol: str) -> Decimal:
    tick = Decimal("0.1") if symbol == "BTCUSDT" else Decimal("0.01") if symbol == "ETHUSDT" else \
        Decimal("0.0000001") if symbol == "10000SATSUSDT" else Decimal("0.000001")
    return (price / tick).quantize(Decimal(1)) * tick


def _size(path: str) -> int:
    """Bytes the SQLite database holds in use, after its write-ahead log is checkpointed into it
    (the WAL's own size is how much was written since the last checkpoint, not what is kept)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def _pg_size(url: str) -> int:
    """The database's size on disk: tables, indexes and TOAST (not the server's WAL)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as db:
        return int(db.execute("SELECT pg_database_size(current_database())").fetchone()[0])


@contextlib.contextmanager
def _throwaway_database(admin_url: str) -> Iterator[str]:
    import psycopg
    name = f"warden_log_growth_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=5, help="accounts per venue (x 8 positions)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--drift", type=float, default=0.0, help="trend in %% per minute")
    parser.add_argument("--pg-dsn", help="PostgreSQL instead of SQLite: a URL whose user may CREATE "
                        "DATABASE (a throwaway database is made and dropped)")
    args = parser.parse_args()
    if args.pg_dsn is None:
        figures = asyncio.run(measure(args.accounts, args.seconds, args.drift))
    else:
        with _throwaway_database(args.pg_dsn) as url:
            figures = asyncio.run(measure(args.accounts, args.seconds, args.drift, pg_url=url))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
