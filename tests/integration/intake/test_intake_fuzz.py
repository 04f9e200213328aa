"""A seeded fuzz of the intake over real HTTP in front of a real engine (SQLite store, simulated
Bybit): hostile bodies, signed and unsigned. No answer is a 5xx, nothing crashes, memory stays
bounded, every authenticated refusal is in the log and unauthenticated ones are accounted for.

``make test`` runs `DEFAULT_CASES`; ``make fuzz`` runs 10,000 (``WARDEN_FUZZ_CASES``), with the
seed in ``WARDEN_FUZZ_SEED`` to reproduce a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from decimal import Decimal

import aiohttp
import pytest

from tests.integration.intake.conftest import CANARY, rejections, signed
from tests.integration.intake.fuzz_cases import Case, cases
from tests.integration.intake.test_intake_bad_traffic import UNAUTHENTICATED
from warden.adapters.intake import NONCE, SIGNATURE, TIMESTAMP
from warden.adapters.store import open_store

DEFAULT_CASES = 300
CASES = int(os.environ.get("WARDEN_FUZZ_CASES", DEFAULT_CASES))
SEED = int(os.environ.get("WARDEN_FUZZ_SEED", 20260301))
MAX_BODY = 16 * 1024
RSS_GROWTH_MB = 96  # after warm-up; 10,000 cases stay far below (the log is on disk)
OPEN_LIMITS = {"rate_per_second": Decimal(100_000), "rate_burst": 100_000, "max_body_bytes": MAX_BODY,
               "unauthenticated_per_second": Decimal(100_000), "unauthenticated_burst": 100_000}


@pytest.fixture
def store(tmp_path):
    """On disk, so that the log's growth is not counted as the process's memory."""
    return open_store(f"sqlite:///{tmp_path}/fuzz.sqlite3")


def headers_for(case: Case) -> dict[str, str]:
    body = case.body
    if case.signing == "replayed_nonce":
        return signed(body, nonce="fuzz-replayed-nonce")
    spoiled = {"wrong_secret": {"secret": "not-" + CANARY}, "stale": {"skew": -3600},
               "future": {"skew": 3600}}.get(case.signing, {})
    headers = signed(body, **spoiled)
    if case.signing == "unsigned":
        del headers[SIGNATURE]
    elif case.signing == "bad_nonce":
        headers[NONCE] = "no"
    elif case.signing == "bad_timestamp":
        headers[TIMESTAMP] = "\u0661\u0667" + "\u0660" * 8  # Arabic-Indic digits
    elif case.signing == "signature_case":
        headers[SIGNATURE] = headers[SIGNATURE].upper()  # hex in capitals is the same signature
    return headers


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def test_no_hostile_request_gets_a_5xx_and_every_authenticated_refusal_is_recorded(
        serve, engine, store):
    intake, _ = await serve(engine, **OPEN_LIMITS)
    answered: Counter[str] = Counter()  # reason -> count, of refusals
    statuses: Counter[int] = Counter()
    warm_rss, failures = None, []
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async def send(case: Case) -> None:
            async with session.post(intake.url, data=case.body, headers=headers_for(case)) as response:
                text = await response.text()
            statuses[response.status] += 1
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {"status": None}
            if response.status >= 500 or answer["status"] not in ("accepted", "duplicate", "rejected"):
                failures.append(f"case {case.number} ({case.signing}, {case.how}): {response.status} {text}")
            elif answer["status"] == "rejected":
                answered[answer["reason"]] += 1

        batch: list[Case] = []
        for case in cases(SEED, CASES, max_body=MAX_BODY):
            batch.append(case)
            if len(batch) == 8:  # a few at a time: the engine sees concurrent requests too
                await asyncio.gather(*map(send, batch))
                batch.clear()
            if case.number == CASES // 10:
                warm_rss = rss_mb()
        await asyncio.gather(*map(send, batch))
    await engine.idle()
    seed_note = f"seed {SEED}, {CASES} cases: WARDEN_FUZZ_SEED={SEED} WARDEN_FUZZ_CASES={CASES}"

    assert not failures, f"{seed_note}\n" + "\n".join(failures[:20])
    assert sum(statuses.values()) == CASES
    recorded = rejections(store)
    is_unauthenticated = lambda reason: reason.split(":")[0] in UNAUTHENTICATED  # noqa: E731
    authenticated = Counter(r for r in answered.elements() if not is_unauthenticated(r))
    assert Counter(e.reason for e in recorded if not is_unauthenticated(e.reason)) == authenticated, seed_note
    unrecorded = sum(sum(e.raw.get("unrecorded_before", {}).values()) for e in recorded)
    refused_unauthenticated = sum(n for r, n in answered.items() if is_unauthenticated(r))
    assert sum(1 for e in recorded if is_unauthenticated(e.reason)) + unrecorded <= refused_unauthenticated
    accepted = [e for e in store.all_events() if type(e).__name__ == "SignalAccepted"]
    assert len(accepted) == intake.counters()["accepted"] > 0, seed_note  # the valid ones still open
    assert len(authenticated) > 20 and refused_unauthenticated > CASES / 10, "the fuzz missed a side"
    growth = rss_mb() - (warm_rss or rss_mb())
    assert growth < RSS_GROWTH_MB, f"{seed_note}: RSS grew {growth:.0f} MB"
    print(f"\nintake fuzz: {seed_note}, {time.monotonic() - started:.1f} s, answers {dict(statuses)}, "
          f"RSS +{growth:.1f} MB after warm-up")
