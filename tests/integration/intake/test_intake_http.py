"""The intake over real HTTP in front of a real engine (memory store, simulated Bybit): what a bot
is answered, and what the log records, for every way a signal can be accepted or refused."""

from __future__ import annotations

import asyncio
import hashlib
import json
from uuid import UUID

from tests.integration.engine.conftest import signal
from tests.integration.intake.conftest import CANARY, rejections, stored_text
from warden.adapters.intake import SIGNATURE, TIMESTAMP
from warden.domain.lifecycle import Status


async def test_a_signed_signal_is_accepted_and_ends_protected(serve, engine, store):
    intake, client = await serve(engine)
    reply = await client.post(signal("s1"))
    await engine.idle()

    assert reply.http == 202 and reply.body["status"] == "accepted" and reply.body["reason"] is None
    position = store.repository.get(UUID(reply.body["position_id"]))
    assert position.status is Status.PROTECTED
    counters = intake.counters()
    assert (counters["accepted"], counters["duplicate"], counters["rejected"]) == (1, 0, {})


async def test_each_refusal_has_its_code_is_counted_and_recorded(serve, engine, store):
    intake, client = await serve(engine, skew_seconds=30, max_body_bytes=1024)
    cases = [
        (dict(secret="not-the-secret"), 401, "bad_signature"),
        (dict(omit=SIGNATURE), 401, "unsigned"),
        (dict(headers={TIMESTAMP: "yesterday"}), 401, "unsigned"),
        (dict(skew=-31), 401, "stale"),
        (dict(skew=+45), 401, "stale"),
        (dict(raw=b"{not json"), 400, "not_json"),
        (dict(raw=b'["a", "list"]'), 400, "not_object"),
        (dict(raw=json.dumps({"signal_id": "t1", "x": {"_type_": "decimal_str", "_data_": "1"}}).encode()),
         400, "not_object"),
        (dict(raw=b'{"pad": "' + b"x" * 2000 + b'"}'), 413, "oversized"),
    ]
    for i, (how, http, code) in enumerate(cases):
        reply = await client.post(signal(f"r{i}"), **how)
        assert (reply.http, reply.body["status"]) == (http, "rejected"), (how, reply)
        assert reply.body["reason"].startswith(code + ":"), (how, reply)

    recorded = rejections(store)
    assert [e.reason.split(":")[0] for e in recorded] == [code for _, _, code in cases]
    # unauthenticated: what identifies the request, never the body itself
    wrong_secret = recorded[0]
    body = json.dumps(signal("r0")).encode()
    assert wrong_secret.signal_id is None
    assert wrong_secret.raw == {"source": "127.0.0.1", "size": len(body),
                                "sha256": hashlib.sha256(body).hexdigest(), "head": body[:96].decode()}
    assert recorded[-1].raw == {"source": "127.0.0.1", "size": 2011}  # oversized: not even read
    # authenticated: the body as text when it is not JSON
    assert recorded[5].signal_id is None and recorded[5].raw == {"raw_text": "{not json"}
    assert intake.counters()["rejected"] == {"bad_signature": 1, "unsigned": 2, "stale": 2, "not_json": 1,
                                             "not_object": 2, "oversized": 1}
    assert not engine.positions  # nothing refused reached the exchange
    store.repository.get(recorded[0].originator_id)  # the day's book still loads


async def test_a_replayed_nonce_is_refused_even_with_a_new_signal(serve, engine, store):
    _, client = await serve(engine)
    first = await client.post(signal("n1"), nonce="same-nonce-123")
    again = await client.post(signal("n2"), nonce="same-nonce-123")
    await engine.idle()

    assert first.http == 202
    assert again.http == 409 and again.body["reason"].startswith("replayed_nonce:")
    [replayed] = rejections(store)  # not proven fresh: recorded compactly, like any unauthenticated one
    assert replayed.signal_id is None and '"signal_id": "n2"' in replayed.raw["head"]
    assert len(engine.positions) == 1


async def test_a_signal_id_is_a_replay_on_its_account_in_the_window_and_a_duplicate_after(
        serve, make_engine, store, clock):
    engine = await make_engine()  # Bybit and Binance
    _, client = await serve(engine, now=clock.now)
    first = await client.post(signal("dup1"))
    again = await client.post(signal("dup1"))  # a fresh nonce: a bot retrying after a timeout
    clock.advance(31)  # past the 30 s window (the bot's clock moves alike)
    later = await client.post(signal("dup1"), skew=31)
    await engine.idle()

    assert first.http == 202
    assert again.http == 409 and again.body["reason"].startswith("replayed_signal_id:")
    assert again.body["position_id"] == first.body["position_id"]
    assert later.http == 200
    assert later.body == {"status": "duplicate", "position_id": first.body["position_id"], "reason": None}
    assert len(engine.positions) == 1
    [replayed] = rejections(store)
    assert replayed.signal_id == "dup1" and replayed.raw["symbol"] == "BTCUSDT"  # authenticated: whole


async def test_the_same_signal_id_on_another_venue_is_another_position_not_a_replay(
        serve, make_engine, store):
    engine = await make_engine()
    _, client = await serve(engine)
    bybit = await client.post(signal("twin1"))
    binance = await client.post(signal("twin1", exchange="binanceusdm"))
    await engine.idle()

    assert (bybit.http, binance.http) == (202, 202)
    assert bybit.body["position_id"] != binance.body["position_id"]
    assert len(engine.positions) == 2 and rejections(store) == []


async def test_a_signal_the_engine_refuses_is_400_and_recorded_once(serve, engine, store):
    intake, client = await serve(engine)
    reply = await client.post(signal("bad1", symbol="NOPEUSDT"))
    retry = await client.post(signal("bad1"))  # a refused id may be sent again, corrected
    await engine.idle()

    assert reply.http == 400 and "NOPEUSDT" in reply.body["reason"]
    assert retry.http == 202
    assert [e.signal_id for e in rejections(store)] == ["bad1"]
    assert intake.counters()["rejected"] == {"invalid": 1}


async def test_beyond_the_burst_signed_signals_get_429_each_recorded_compactly(serve, engine, store):
    intake, client = await serve(engine, rate_per_second=1, rate_burst=3)
    bodies = [json.dumps({"signal_id": f"f{i}", "pad": "x" * 1000}).encode() for i in range(20)]
    replies = await asyncio.gather(*(client.post(raw=body) for body in bodies))

    assert sorted(r.http for r in replies) == [400] * 3 + [429] * 17  # 400: no exchange, say the engine
    assert all(r.body["reason"].startswith("rate_limited:") for r in replies if r.http == 429)
    assert intake.counters()["rejected"]["rate_limited"] == 17
    limited = [e for e in rejections(store) if e.reason.startswith("rate_limited")]
    assert len(limited) == 17  # authenticated: every refusal is in the log, with its signal id...
    assert {e.signal_id for e in limited} < {f"f{i}" for i in range(20)}
    sizes = {json.loads(body)["signal_id"]: len(body) for body in bodies}
    # ...but not its body
    assert all(e.raw["size"] == sizes[e.signal_id] and len(e.raw["head"]) == 96 for e in limited)


async def test_an_engine_that_is_not_ready_answers_503_and_records_it(serve, make_engine, store):
    engine = await make_engine(venues=("bybit",), start=False)
    _, client = await serve(engine)
    reply = await client.post(signal("early1"))

    assert reply.http == 503 and reply.body["reason"].startswith("not_ready:")
    assert [e.signal_id for e in rejections(store)] == ["early1"]


async def test_the_webhook_secret_and_signatures_are_never_recorded_or_answered(serve, engine, store):
    intake, client = await serve(engine)
    replies = [await client.post(signal("c1")), await client.post(signal("c2"), secret="wrong"),
               await client.post(signal("c3"), skew=-100), await client.post(raw=b"garbage " + b"z" * 40),
               await client.post(signal("c1"))]
    await engine.idle()

    text = stored_text(store)
    assert "c2" in text and "garbage" in text  # the log does hold the refusals...
    assert CANARY not in text  # ...but not the secret
    for reply in replies:
        assert CANARY not in reply.text and SIGNATURE.lower() not in reply.text.lower()
    assert CANARY not in repr(intake) and CANARY not in repr(intake.settings)
    sent_signatures = [e for e in store.all_events() if "signature" in json.dumps(getattr(e, "raw", {}))]
    assert sent_signatures == []
