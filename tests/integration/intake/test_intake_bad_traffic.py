"""Bad traffic over real HTTP against a real engine: junk from several addresses cannot starve the
bot's signed signals, slow clients are cut off, a body that arrives in pieces is read whole, and
refused junk cannot grow the log at the rate it arrives."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from decimal import Decimal
from urllib.parse import urlsplit

from tests.integration.engine.conftest import FAST, signal
from tests.integration.intake.conftest import http_head, raw_request, rejections, signed, stored_text

PRODUCTION_LIMITS = {"rate_per_second": Decimal(20), "rate_burst": 40}  # the defaults of [intake]
UNAUTHENTICATED = ("unsigned", "bad_signature", "stale", "replayed_nonce", "oversized", "slow_body",
                   "source_limited")


def unauthenticated(store):
    return [e for e in rejections(store) if e.reason.split(":")[0] in UNAUTHENTICATED]


async def test_a_junk_flood_from_several_addresses_does_not_starve_the_bots_signed_signals(
        serve, make_engine, store, client_at):
    # the bot adds to its BTCUSDT long: one venue position, one warden position (scale_in)
    engine = await make_engine(config=replace(FAST, scale_in=True), venues=("bybit",))
    intake, bot = await serve(engine, **PRODUCTION_LIMITS)
    junk_answers: list[int] = []
    started = time.monotonic()

    async def junk(source: str, worker: int) -> None:
        client = client_at(intake.url, source)
        n = 0
        while time.monotonic() - started < 3.0:
            n += 1
            how = {"omit": "X-Warden-Signature"} if n % 2 else {"secret": "guessed"}
            reply = await client.post(raw=f"junk {source} {worker} {n}".encode() * 50, **how)
            junk_answers.append(reply.http)

    async def real_bot() -> list[int]:
        answers = []
        for i in range(30):  # 10 a second: half the shared budget
            answers.append((await bot.post(signal(f"bot-{i}", quantity="0.001"))).http)
            await asyncio.sleep(0.1)
        return answers

    flood = [junk(f"127.0.0.{a}", w) for a in range(2, 6) for w in range(3)]
    *_, bot_answers = await asyncio.gather(*flood, real_bot())
    elapsed = time.monotonic() - started
    await engine.idle()

    assert len(junk_answers) > 300, "the flood was no flood"
    assert set(junk_answers) <= {401, 429} and junk_answers.count(429) > len(junk_answers) / 2
    assert bot_answers == [202] * 30  # not one signal of the bot lost to the junk
    # each junk address spent its own small budget; the log holds about one record a second of it
    recorded = unauthenticated(store)
    assert len(recorded) <= 10 + elapsed + 1
    assert sum(1 + sum(e.raw.get("unrecorded_before", {}).values()) for e in recorded) <= len(junk_answers)


async def test_a_client_that_never_finishes_its_headers_is_cut_off(serve, engine):
    intake, _ = await serve(engine, header_timeout_seconds=Decimal("0.5"))
    head = http_head(intake.url, {}, 2)
    trickle = [head[i:i + 1] for i in range(len(head))]  # a byte every 0.1 s: 10+ s for the headers

    dawdler = raw_request(intake.url, trickle, gap=0.1, source="127.0.0.6")
    silent = raw_request(intake.url, [], source="127.0.0.7")  # connects and sends nothing
    (status, _, took), (silent_status, _, silent_took) = await asyncio.gather(dawdler, silent)

    assert (status, silent_status) == (None, None)  # closed without an answer...
    assert 0.4 < took < 2.0 and 0.4 < silent_took < 2.0  # ...at the deadline, not after an hour
    assert intake.counters()["connections"] == {"open": 0, "closed": {"slow_headers": 2}}


async def test_a_body_that_stops_arriving_gets_408_and_opens_nothing(serve, engine, store):
    intake, _ = await serve(engine, body_timeout_seconds=Decimal("0.5"))
    body = json.dumps(signal("slow1")).encode()
    head = http_head(intake.url, signed(body), len(body))

    status, answer, took = await raw_request(intake.url, [head + body[:10]])

    assert status == 408 and b"slow_body:" in answer and 0.4 < took < 2.0, (answer, took)
    assert not engine.positions
    assert [e.reason.split(":")[0] for e in rejections(store)] == ["slow_body"]


async def test_a_signed_body_sent_in_two_pieces_50_ms_apart_is_read_whole_and_accepted(serve, engine):
    intake, _ = await serve(engine)
    body = json.dumps(signal("split1")).encode()
    head = http_head(intake.url, signed(body), len(body))
    half = len(body) // 2

    status, answer, _ = await raw_request(intake.url, [head + body[:half], body[half:]], gap=0.05)
    await engine.idle()

    assert status == 202, answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "accepted"


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(serve, engine):
    intake, _ = await serve(engine, idle_timeout_seconds=Decimal("0.5"))
    body = json.dumps(signal("idle1")).encode()
    head = http_head(intake.url, signed(body), len(body), keep_alive=True)

    status, _, took = await raw_request(intake.url, [head + body])
    await engine.idle()

    assert status == 202 and 0.4 < took < 2.0
    assert intake.counters()["connections"]["closed"] == {"idle": 1}


async def test_connections_over_the_cap_are_closed_as_they_open_and_the_bot_still_gets_in(
        serve, engine):
    intake, bot = await serve(engine, max_connections=6, max_connections_per_source=3)
    port = urlsplit(intake.url).port
    held = [await asyncio.open_connection("127.0.0.1", port, local_addr=(f"127.0.0.{8 + i // 3}", 0))
            for i in range(5)]  # 3 from .8, 2 from .9
    try:
        fourth_from_one = await raw_request(intake.url, [b"GET"], source="127.0.0.8", wait=2)
        reply = await bot.post(signal("capped1"))  # the sixth connection: under the total cap
        await engine.idle()
    finally:
        for _, writer in held:
            writer.close()

    assert fourth_from_one[0] is None and fourth_from_one[2] < 0.5  # closed at once
    assert reply.http == 202
    assert intake.counters()["connections"]["closed"] == {"over_cap": 1}


async def test_refused_junk_is_recorded_compactly_and_the_log_stops_growing_with_the_flood(
        serve, engine, store, client_at):
    intake, _ = await serve(engine, max_body_bytes=64 * 1024, max_connections=1000)  # all 400 at once
    big = b"J" * (60 * 1024)
    clients = [client_at(intake.url, f"127.0.1.{i}") for i in range(40)]  # 40 addresses x 10 = 400
    started = time.monotonic()
    replies = await asyncio.gather(*(c.post(raw=big + bytes([n]), omit="X-Warden-Nonce")
                                     for c in clients for n in range(10)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(1.1)
    last = await clients[0].post(raw=b"one more", omit="X-Warden-Nonce")  # carries the rest's count

    assert {r.http for r in replies} == {401} and last.http == 401
    recorded = unauthenticated(store)
    assert len(recorded) <= 10 + elapsed + 2
    assert sum(1 + sum(e.raw.get("unrecorded_before", {}).values()) for e in recorded) == 401
    assert all(set(e.raw) <= {"source", "size", "sha256", "head", "unrecorded_before"} for e in recorded)
    assert recorded[0].raw["size"] == len(big) + 1 and len(recorded[0].raw["head"]) == 96
    assert len(stored_text(store)) < 1000 * (len(recorded) + 1)  # 24 MB arrived; kilobytes stored
