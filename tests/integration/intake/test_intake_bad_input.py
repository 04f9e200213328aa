"""Every bad input a signed bot can send gets a clear 400 and a record, over real HTTP in front of a
real engine: huge, tiny, NaN, infinite and exotic numbers, lone surrogates, deep nesting, wrong
types. (Before, ``"1e30"`` escaped from the instrument's arithmetic as a 500, and a lone surrogate
could not be encoded into the refusal's record.)"""

from __future__ import annotations

import json

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.intake.conftest import http_head, raw_request, rejections, signed


def with_field(key, value):
    return json.dumps({**signal("bad-1"), key: value}).encode()


def with_literal(key, literal):
    return json.dumps({**signal("bad-1"), key: "__X__"}).replace('"__X__"', literal).encode()


BAD = [
    (with_field("quantity", "1e30"), "quantity '1e30' is out of range"),
    (with_field("quantity", 1e308), "quantity 1E+308 is out of range [1e-12, 1e15]"),
    (with_literal("quantity", "1e400"), "quantity 1E+400 is out of range"),
    (with_field("quantity", 10**40), "out of range"),
    (with_field("quantity", "NaN"), "quantity 'NaN' is not a decimal number"),
    (with_literal("quantity", "NaN"), "not_json"),
    (with_literal("quantity", "-Infinity"), "not_json"),
    (with_field("quantity", "-0"), "quantity must be > 0, got '-0'"),
    (with_field("quantity", "1e-400"), "quantity '1e-400' is out of range"),
    (with_literal("quantity", "1e-400"), "out of range"),
    (with_field("quantity", "\u0661\u0662\u0663"), "not a decimal number"),
    (with_field("quantity", "1_000"), "not a decimal number"),
    (with_field("quantity", True), "quantity must be a number or a decimal string"),
    (with_field("quantity", {"amount": 1}), "quantity must be a number or a decimal string"),
    (with_field("stop_loss_percent", "1e3"), "stop_loss_percent must be below 100"),
    (with_literal("quantity", "1" * 5000), "not_json"),  # past Python's int digit limit
    (with_field("a", "\ud800"), "not_object: a string holds a lone surrogate"),
    (with_field("\udc00", 1), "not_object: a key holds a lone surrogate"),
    (with_field("deep", json.loads("[" * 17 + "]" * 17)), "not_object: the body nests deeper than 16"),
    (with_literal("deep", "[" * 20_000 + "]" * 20_000), "not_json"),
    (with_field("signal_id", 12345), "signal_id must be a non-empty string"),
    (with_field("side", ["long"]), "side must be a non-empty string"),
    (with_field("symbol", "\u202eBTCUSDT"), "symbol must be <= 64 of A-Z"),
    (b'{"signal_id": "bad-1", "exchange": "bybit"' + b"\xed\xa0\x80" + b"}", "not_json"),
]


@pytest.mark.parametrize(("body", "reason"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
async def test_a_bad_input_is_a_clear_400_and_recorded_with_the_same_reason(serve, engine, store,
                                                                           body, reason):
    _, client = await serve(engine)
    reply = await client.post(raw=body)

    assert reply.http == 400 and reply.body["status"] == "rejected", reply.text
    assert reason in reply.body["reason"]
    [recorded] = rejections(store)
    assert recorded.reason == reply.body["reason"]
    store.repository.get(recorded.originator_id)  # the day's book still loads
    assert not engine.positions


@pytest.mark.parametrize("header", [b"X-Warden-Signature: \xc3\xa9" + b"0" * 62,
                                    b"X-Warden-Signature: \xff\xfe", b"X-Warden-Nonce: n\xc3\xa9nce-12345"])
async def test_a_signing_header_that_is_not_ascii_is_a_401_not_a_crash(serve, engine, store, header):
    intake, _ = await serve(engine)
    body = json.dumps(signal("hdr-1")).encode()
    name = header.split(b":")[0].decode()
    headers = {k: v for k, v in signed(body).items() if k != name}
    head = http_head(intake.url, headers, len(body)).replace(b"\r\n\r\n", b"\r\n" + header + b"\r\n\r\n")

    status, answer, _ = await raw_request(intake.url, [head + body])

    assert status == 401, answer
    assert [e.reason.split(":")[0] for e in rejections(store)] in (["bad_signature"], ["unsigned"])
