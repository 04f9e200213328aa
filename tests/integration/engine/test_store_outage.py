"""PostgreSQL stopped under the running service, with prices moving and signals arriving, then
started again: nothing is lost, nothing is corrupted, and the service resumes by itself.

The database is a throwaway cluster of this module's own (tests/pg.py `private_cluster`), stopped
with ``pg_ctl stop -m fast`` (every session cut, as a crash or a failover would) and started on
the same port: never the shared server the other tests use.

While it is down: /healthz answers 503 at once naming the store (polled the whole time, every
answer within a second), a signal is refused at once with 503 (retry later), no entry order is
sent, and the stops already on the venues stay. Afterwards
the exported log imports into an empty store (no version gap), replays into the positions read
model, and agrees with the simulator: every venue position tracked once, one stop each, at the
recorded price, and no order sent twice.

`make test` stops the database for 3 s and 15 s. The long outage (330 s by default, past
psycopg's 300 s reconnect timeout) runs with `make outage` (WARDEN_OUTAGE_LONG_S sets it; only
then is that variant collected).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import pytest

from tests import pg
from tests.integration.engine.conftest import ACCOUNTS, signal
from tests.integration.engine.test_service import eventually
from tests.integration.engine.venue_state import held_stops
from tests.integration.intake.conftest import Client, settings
from warden.adapters.eventlog import export_log, import_log
from warden.adapters.intake import Intake
from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.store import WardenStore, open_store
from warden.projections.positions_view import PositionsView, open_positions
from warden.projections.runner import ProjectionRunner

pytestmark = pytest.mark.postgres
ENTRY_PATHS = {"bybit": "/v5/order/create", "binance": "/fapi/v1/order"}
HEALTH_WITHIN_S = 1.0  # every /healthz answer during the outage
LONG_S = os.environ.get("WARDEN_OUTAGE_LONG_S")
OUTAGES = [pytest.param(3, id="3s"), pytest.param(15, id="15s")] + \
    ([pytest.param(float(LONG_S), id=f"long-{LONG_S}s", marks=pytest.mark.timeout(float(LONG_S) + 300))]
     if LONG_S else [])


@pytest.fixture
def cluster(private_pg: pg.PgServer) -> pg.PgServer:
    return private_pg


@pytest.fixture
def store(cluster: pg.PgServer) -> Iterator[WardenStore]:
    """Overrides the engine tests' memory store: PostgreSQL on the private cluster."""
    with cluster.database("warden_outage") as url:
        store = open_store(url)
        store.writer.start_watching()  # as the service's runtime does
        yield store
        store.close()


def entry_orders(sim) -> int:
    return sum(1 for venue, path in ENTRY_PATHS.items() for r in sim.control.requests(venue, path)
               if r["method"] == "POST")


async def move_prices(sim, stop: asyncio.Event) -> None:
    """BTCUSDT and ETHUSDT climb in small steps every 100 ms: the stops keep trailing."""
    btc, eth = Decimal(60000), Decimal(3000)
    while not stop.is_set():
        btc, eth = btc + 15, eth + Decimal("0.75")
        sim.control.set_price("BTCUSDT", btc)
        sim.control.set_price("ETHUSDT", eth)
        await asyncio.sleep(0.1)


async def get_health(base: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, session.get(base + "/healthz") as answer:
        return answer.status, await answer.json(), time.monotonic() - started


async def poll_health(base: str, answers: list[tuple[int, float]], stop: asyncio.Event) -> None:
    """/healthz twice a second until ``stop``: each answer's status and how long it took (a hung
    service shows as a long answer, or one that never comes: 5 s counts as no answer)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            status, _, took = await asyncio.wait_for(get_health(base), 5)
        except TimeoutError:
            status, took = 0, time.monotonic() - started
        answers.append((status, took))
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("outage_s", OUTAGES)
async def test_a_store_outage_loses_nothing_and_the_service_resumes_by_itself(
        cluster, sim, ops_service, store, outage_s):
    service, base = await ops_service(symbols_interval=0.2)
    engine = service.engine
    intake = Intake(engine, settings())
    prices_stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        client = Client(session, await intake.serve())
        try:
            for venue in ("bybit", "binanceusdm"):
                assert (await client.post(signal(f"before-{venue}", exchange=venue))).http == 202
            await engine.idle()
            prices = asyncio.create_task(move_prices(sim, prices_stop))
            await asyncio.sleep(1)
            orders_before = entry_orders(sim)

            await asyncio.to_thread(pg.pause, cluster)
            await eventually(lambda: not store.available, timeout=3)
            status, health, took = await get_health(base)
            assert status == 503 and health["store"] is False and took < 1
            assert health["store_error"].startswith("store unavailable")
            async with aiohttp.ClientSession() as metrics_session, \
                    metrics_session.get(base + "/metrics") as answer:
                assert "warden_store_up 0.0" in await answer.text()
            health_stop, answers = asyncio.Event(), []
            polling = asyncio.create_task(poll_health(base, answers, health_stop))
            started = time.monotonic()
            refused = await client.post(signal("during", exchange="bybit", symbol="ETHUSDT"))
            assert refused.http == 503 and "store unavailable" in refused.body["reason"]
            assert time.monotonic() - started < HEALTH_WITHIN_S
            await asyncio.sleep(outage_s)
            health_stop.set()
            await polling
            assert len(answers) >= outage_s  # about two a second
            slow = [(status, round(took, 2)) for status, took in answers
                    if status != 503 or took >= HEALTH_WITHIN_S]
            assert not slow, f"of {len(answers)} answers during the outage: {slow}"
            assert entry_orders(sim) == orders_before  # nothing new while nothing can be recorded
            for venue in ("bybit", "binanceusdm"):
                assert len(held_stops(sim, venue)) == 1  # the stops on the venues stay

            await asyncio.to_thread(pg.resume, cluster)
            resumed = time.monotonic()
            await eventually(lambda: store.available, timeout=30)
            await eventually(lambda: service.health()["ok"], timeout=10)
            print(f"\noutage of {outage_s:g} s: {len(answers)} /healthz answers, all 503, the slowest "
                  f"{max(took for _, took in answers):.3f} s; healthy {time.monotonic() - resumed:.1f} s "
                  "after the database was started again")
            again = await client.post(signal("during", exchange="bybit", symbol="ETHUSDT"))
            assert again.http == 202  # the retry a client makes after a 503
            await engine.idle()
            await asyncio.sleep(1)  # a few more marks, stop moves, reconciliations
        finally:
            prices_stop.set()
            await intake.close()
    await prices
    await engine.idle()

    # the log, exported and imported into an empty store: no gap, nothing refused
    exported = io.StringIO()
    export_log(store, exported)
    replayed = open_store("memory://")
    result = import_log(replayed, exported.getvalue().splitlines())
    assert result.events == len(list(store.stored_notifications())) > 0
    db = open_readmodel("sqlite:///:memory:")
    runner = ProjectionRunner(replayed, db, PositionsView(replayed))
    runner.setup()
    runner.catch_up()
    open_ids = {row.id for row in open_positions(db)}
    assert open_ids == set(engine.positions) and len(open_ids) == 3
    names = [type(e).__name__ for e in replayed.all_events()]
    assert names.count("StopLossMoved") >= 2  # the stops trailed, before and after the outage
    [refusal] = [e for e in replayed.all_events() if type(e).__name__ == "SignalRejected"]
    assert refusal.signal_id == "during" and "store unavailable" in refusal.reason  # recorded later

    # ... and it agrees with the simulator
    for position_id in open_ids:
        live, loaded = engine.positions[position_id], replayed.load(position_id)
        assert loaded.state() == live.state()
        venue = ACCOUNTS[live.venue][0]
        [held] = held_stops(sim, live.venue, live.symbol)  # one stop each, at the recorded price
        assert held.price == loaded.stop_price
        [venue_position] = [p for p in sim.control.state(venue)["positions"] if p["symbol"] == live.symbol]
        assert Decimal(venue_position["qty"]).copy_abs() == loaded.filled_qty
    for venue in ("bybit", "binance"):
        sent = Counter(r["params"].get("orderLinkId") or r["params"].get("newClientOrderId")
                       for r in sim.control.requests(venue, ENTRY_PATHS[venue]) if r["method"] == "POST")
        assert sent and all(n == 1 for n in sent.values()), sent  # no order sent twice
