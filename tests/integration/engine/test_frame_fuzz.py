"""Malformed websocket frames pushed through the simulator's raw-frame path into a running service
(SQLite store on disk, both venues, the private ccxt.pro feeds and the public mark-price feeds):
nothing crashes, ``/healthz`` and ``/metrics`` answer 200 throughout, every frame is refused and
accounted for in the log within the recording budget, memory stays bounded, and real position
reports pushed between the garbage still reach the log.

``make test`` runs `DEFAULT_FRAMES`; ``make fuzz`` runs 10,000 (``WARDEN_FUZZ_CASES``), with the seed
in ``WARDEN_FUZZ_SEED`` to reproduce a failure.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from decimal import Decimal
from itertools import islice

import aiohttp
import pytest

from tests.frame_cases import Frame, frames
from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.test_service import eventually
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.adapters.store import open_store
from warden.adapters.streams.binance_native import BinanceNativeStream
from warden.adapters.streams.bybit_native import BybitNativeStream
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.domain.events import PositionReported, StreamFrameRejected
from warden.domain.ids import account_id
from warden.domain.values import PhantomPolicy, ReportSource
from warden.sim.server import Simulator

DEFAULT_FRAMES = 300
FRAMES = int(os.environ.get("WARDEN_FUZZ_CASES", DEFAULT_FRAMES))
SEED = int(os.environ.get("WARDEN_FUZZ_SEED", 20260301))
BATCH = 50
REAL_CHANGES = 10  # real position changes per venue, spread over the run
RSS_GROWTH_MB = 64  # after warm-up; 10,000 frames stay far below (the log is on disk)
# simulator venue -> (warden venue, simulator account)
VENUES = {"bybit": ("bybit", "bybit"), "binance": ("binanceusdm", "binance")}
REAL = ("ETHUSDT", Decimal("0.01"))  # opened by hand, step by step: a phantom, only alerted


@pytest.fixture
def store(tmp_path):
    """On disk, so that the log's growth is not counted as the process's memory."""
    return open_store(f"sqlite:///{tmp_path}/frames.sqlite3")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def push(sim: Simulator, batch: list[Frame]) -> int:
    """Each frame to its venue's private session of the account and the venue's public sessions."""
    queued = 0
    for venue, (_, account) in VENUES.items():
        for binary in (False, True):
            group = [f.data for f in batch if f.venue == venue and f.binary is binary]
            if group:
                queued += sim.control.push_raw(account, group, binary=binary)
    return queued


def feeds(compare: bool):
    """ccxt.pro on each venue; in compare mode with the native stream beside it."""
    def make(ports: list[CcxtExchange]) -> list:
        made = []
        for port in ports:
            feed = CcxtPrivateStream(port, settle=0.05)
            native = BybitNativeStream if port.venue == "bybit" else BinanceNativeStream
            made.append((feed, native(port.config, port)) if compare else feed)
        return made
    return make


def rejected(service) -> int:
    return sum(feed.rejected_frames for feed in service.feeds().values())


def accounted(store) -> tuple[int, int]:
    """(records, rejected frames they account for) in the log."""
    records = [e for e in store.all_events() if isinstance(e, StreamFrameRejected)]
    return len(records), sum((e.size is not None) + sum(e.unrecorded.values()) for e in records)


def real_reports(store, venue: str, account: str) -> list[Decimal]:
    reports = [e.report for e in store.history(account_id(venue, account)) if isinstance(e, PositionReported)]
    return [r.size for r in reports if r.symbol == REAL[0] and r.source is ReportSource.WEBSOCKET]


@pytest.mark.parametrize("compare", [False, True], ids=["ccxtpro", "compare"])
async def test_malformed_frames_are_refused_and_accounted_for_while_real_reports_go_through(
        ops_service, sim: Simulator, store, compare: bool) -> None:
    started = time.monotonic()
    alert = replace(FAST, phantom_policy=PhantomPolicy.ALERT)
    service, base = await ops_service(feeds(compare), config=alert, symbols_interval=0.2)
    for venue, _ in VENUES.values():  # a tracked position on each venue: both mark-price feeds run
        await service.engine.submit(signal(f"fuzz-{venue}", exchange=venue))
    await service.engine.idle()
    running = 6 if compare else 4  # private (and native) and mark-price feeds on both venues
    await eventually(lambda: len(service.feeds()) == running and all(f.up for f in service.feeds().values()))
    before = rejected(service)
    records_before = accounted(store)[0]

    queued, warm_rss, failures, changes = 0, None, [], 0
    every = max(FRAMES // (BATCH * REAL_CHANGES), 1)
    generated = frames(SEED, FRAMES)
    async with aiohttp.ClientSession() as http:
        for number in range(0, FRAMES, BATCH):
            queued += push(sim, list(islice(generated, BATCH)))
            if (number // BATCH) % every == 0 and changes < REAL_CHANGES:
                changes += 1
                for _, account in VENUES.values():
                    sim.control.open_position(account, REAL[0], "buy", str(REAL[1]))
            for path in ("/healthz", "/metrics"):
                async with http.get(base + path) as answer:
                    if answer.status != 200:
                        failures.append(f"frames {number}..: {path} {answer.status} {await answer.text()}")
            expected = before + queued
            await eventually(lambda: rejected(service) >= expected, timeout=30)  # noqa: B023
            if warm_rss is None and number >= FRAMES // 10:
                warm_rss = rss_mb()
    seed_note = f"seed {SEED}, {FRAMES} frames: WARDEN_FUZZ_SEED={SEED} WARDEN_FUZZ_CASES={FRAMES}"

    assert not failures, f"{seed_note}\n" + "\n".join(failures[:20])
    assert rejected(service) - before == queued, seed_note
    assert queued == (3 if compare else 2) * FRAMES  # each frame reached every feed of its venue
    await eventually(lambda: accounted(store)[1] >= queued, timeout=30)  # the last summaries flushed
    records, frames_in_log = accounted(store)
    assert frames_in_log == queued, seed_note
    elapsed = time.monotonic() - started
    assert records - records_before <= running * (10 + elapsed + 1), f"{records} records in {elapsed:.0f} s"
    for venue, account in VENUES.values():  # every real change between the garbage was reported
        sizes = real_reports(store, venue, account)
        assert sizes and sizes[-1] == changes * REAL[1], f"{venue}: {sizes} ({seed_note})"
    assert all(f.up for f in service.feeds().values()) and not service.stats.failures, seed_note
    growth = rss_mb() - (warm_rss or rss_mb())
    assert growth < RSS_GROWTH_MB, f"{seed_note}: RSS grew {growth:.0f} MB"
    print(f"\nframe fuzz: {seed_note}, {elapsed:.1f} s, {queued} deliveries refused, {records} records, "
          f"RSS +{growth:.1f} MB after warm-up")
