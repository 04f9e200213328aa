"""Screening raw frames: the venues' real frames pass, garbage of every kind is refused with its
kind, and a feed records its rejections compactly within a budget that still accounts for all."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from tests.frame_cases import TEMPLATES, frames
from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.frames import screen
from warden.adapters.streams.rejections import SUMMARY, Rejections
from warden.adapters.streams.supervision import FeedHealth

VENUE = {"bybit": "bybit", "binance": "binanceusdm"}
POSITION = TEMPLATES["bybit"][0]
ORDER = TEMPLATES["binance"][0]


def bybit_position(**item: object) -> str:
    return json.dumps({**POSITION, "data": [{**POSITION["data"][0], **item}]})


@pytest.mark.parametrize("venue", list(TEMPLATES))
def test_the_venues_frames_pass(venue: str) -> None:
    extra = {"bybit": [{"success": True, "ret_msg": "", "op": "auth", "conn_id": "c"},
                       {"success": True, "ret_msg": "pong", "conn_id": "c", "op": "ping"},
                       {"topic": "wallet", "data": [{"coin": [{"coin": "USDT", "walletBalance": "1"}]}]}],
             "binance": [{"result": None, "id": 1}, {"e": "listenKeyExpired", "E": 1, "listenKey": "k"},
                         [TEMPLATES["binance"][3]], {"stream": "btcusdt@markPrice@1s",
                                                     "data": TEMPLATES["binance"][3]}]}[venue]
    for frame in TEMPLATES[venue] + extra:
        assert screen(VENUE[venue], json.dumps(frame)) is None, frame


@pytest.mark.parametrize(("venue", "data", "kind"), [
    ("bybit", b'{"topic": "position"}', "binary"),
    ("bybit", "", "empty"),
    ("bybit", '{"topic": "position", "data": [', "json"),
    ("binanceusdm", '{"e": "markPriceUpdate", "p": NaN}', "json"),
    ("bybit", "[" * 100_000 + "]" * 100_000, "depth"),
    ("bybit", json.dumps({**POSITION, "x": [[[[[[[1]]]]]]]}), "depth"),
    ("bybit", json.dumps({**POSITION, "x": "\ud800"}), "text"),
    ("bybit", json.dumps({**POSITION, "x": "y" * 300}), "text"),
    ("bybit", "x" * 600_000, "size"),
    ("bybit", json.dumps({"topic": "positions", "data": []}), "shape"),
    ("bybit", json.dumps({"op": "hello"}), "shape"),
    ("bybit", json.dumps({**POSITION, "data": {"symbol": "BTCUSDT"}}), "shape"),
    ("binanceusdm", json.dumps({**ORDER, "o": [1]}), "shape"),
    ("binanceusdm", "[]", "shape"),
    ("bybit", bybit_position(avgPrice="-5"), "value"),
    ("bybit", bybit_position(avgPrice="1e400"), "value"),
    ("bybit", bybit_position(avgPrice="NaN"), "value"),
    ("bybit", bybit_position(avgPrice="1e-20"), "value"),
    ("bybit", bybit_position(size="1_000"), "value"),
    ("bybit", bybit_position(size="\u0661\u0662"), "value"),
    ("bybit", bybit_position(size=[]), "value"),
    ("bybit", bybit_position(symbol="BTC/USDT"), "value"),
    ("bybit", bybit_position(updatedTime="-1"), "value"),
    ("binanceusdm", json.dumps({**ORDER, "E": "1E999999999"}), "value"),
    ("binanceusdm", json.dumps(ORDER).replace('"ap": "60010.5"', '"ap": 1E999999999'), "value"),
])
def test_garbage_is_refused_with_its_kind(venue: str, data: str | bytes, kind: str) -> None:
    refusal = screen(venue, data)
    assert refusal is not None and refusal.partition(":")[0] == kind, refusal


def test_signed_amounts_may_be_negative_quantities_may_not() -> None:
    short = {**TEMPLATES["binance"][1]}
    short["a"] = {**short["a"], "P": [{**short["a"]["P"][0], "pa": "-0.010", "up": "-3.5"}]}
    assert screen("binanceusdm", json.dumps(short)) is None
    assert screen("bybit", bybit_position(size="-0.010")) is not None


def test_every_generated_frame_is_garbage() -> None:
    passed = [f for f in frames(7, 3_000) if screen(VENUE[f.venue], f.data) is None]
    assert passed == []


async def test_rejections_beyond_the_budget_are_counted_and_summarised() -> None:
    health, emitted = FeedHealth("f"), []
    rejections = Rejections("f", health, emitted.append, rate=20.0, burst=3)
    for n in range(10):
        rejections.add(StreamRejection("f", f"json: frame {n}", "x" * 1000 + str(n)))
    assert health.rejected_frames == 10 and len(emitted) == 3
    first = emitted[0]
    assert (first.size, len(first.raw_text)) == (1001, 256)
    assert first.sha256 == hashlib.sha256(b"x" * 1000 + b"0").hexdigest()
    await asyncio.sleep(0.2)  # the budget refills: the 7 unrecorded ones are summarised once
    [summary] = emitted[3:]
    assert summary.reason == SUMMARY and summary.size is None and summary.unrecorded == {"json": 7}
    rejections.add(StreamRejection("f", "shape: x", "y"))
    assert emitted[-1].unrecorded == {} and emitted[-1].reason == "shape: x"
