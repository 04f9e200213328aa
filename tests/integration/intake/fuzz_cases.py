"""A seeded generator of hostile intake requests: bodies from plain signals with one field made
exotic to bytes that are not even text, signed in every right and wrong way.

`cases(seed, count)` yields the same requests for the same seed, so a failure is reproduced with
``WARDEN_FUZZ_SEED=<seed> make fuzz`` (or the pytest line it prints).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FIELDS = ("signal_id", "exchange", "account", "symbol", "side", "quantity", "notional",
          "stop_loss_percent", "trailing_activation_percent", "trailing_callback_percent")
NUMBERS = FIELDS[5:]

# values as Python objects (json.dumps writes them)
EXOTIC: list[Any] = [
    "1e30", 1e308, "NaN", "-0", "1e-400", "\u0661\u0662\u0663", "\uff11\uff12\uff13", "Infinity",
    "-Infinity", "1_000", " 1", "0x10",
    "", "0", -1, 0, 10**50, 2**64, -(2**63), 1.5e-320, 5e-324, True, False, None, [], {}, [1, [2, [3]]],
    {"nested": {"deep": 1}}, "\ud800", "\udfff", "a\u0000b", "\U0001f4a5", "\u202e", "x" * 5000, 3.14,
    "3.14", "1e15", "1e16", "1E+3", "0.000000000001", "-1e-12", "9" * 400, "long", "buy", "sell",
    "bybit", "binance", "binanceusdm", "BTCUSDT", "btcusdt", "ETHUSDT", "main", "../etc", "s p a c e",
    {"_type_": "decimal_str", "_data_": "1"}, "\\", '"', "\n", "\t",
]
# literals json.dumps cannot write, spliced into the text
RAW_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999999999", "-0.0", "1e-400",
                "0." + "0" * 400 + "1", "1" * 5000, "1" * 4301, "[" * 50 + "]" * 50, "tru", "nul",
                '"\\ud800"', '"\\udc00\\ud800"', '"\\u0000"', "01", "+1", ".5", "1.", "0x1p3"]
SIGNINGS = (["signed"] * 14 + ["unsigned", "wrong_secret", "stale", "future", "bad_nonce",
                               "bad_timestamp", "replayed_nonce", "signature_case"])


@dataclass(frozen=True)
class Case:
    number: int
    body: bytes
    signing: str  # one of SIGNINGS
    how: str  # what the body generator did, for the failure message


def valid_signal(rng: random.Random, number: int) -> dict[str, Any]:
    return {"signal_id": f"fz-{number}", "exchange": "bybit", "account": "bybit", "symbol": "BTCUSDT",
            "side": rng.choice(["long", "short"]), "quantity": "0.001"}


def _mutated(rng: random.Random, number: int) -> tuple[bytes, str]:
    payload = valid_signal(rng, number)
    kind = rng.randrange(9)
    if kind == 0:
        key = rng.choice(FIELDS + NUMBERS * 2)  # numbers are where the 500s were
        if key == "notional":
            payload.pop("quantity")
        payload[key] = rng.choice(EXOTIC)
        return json.dumps(payload).encode(), f"exotic {key}"
    if kind == 1:
        key = rng.choice(FIELDS + NUMBERS * 2)
        payload[key] = "__RAW__"
        literal = rng.choice(RAW_LITERALS)
        return json.dumps(payload).replace('"__RAW__"', literal).encode(), f"raw {key}={literal[:20]}"
    if kind == 2:
        for key in rng.sample(FIELDS[:6], rng.randint(1, 3)):
            payload.pop(key, None)
        return json.dumps(payload).encode(), "fields removed"
    if kind == 3:
        depth = rng.choice([15, 16, 17, 100, 1000, 100_000])
        return (json.dumps(payload)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}").encode(), \
            f"nested {depth}"
    if kind == 4:
        key = rng.choice(["\ud800", "_type_", "", "x" * 300, "\u0000", "signal_id"])
        payload[key] = rng.choice(EXOTIC)
        return json.dumps(payload).encode(), f"extra key {key[:10]!r}"
    if kind == 5:
        text = json.dumps(payload).encode()
        at = rng.randrange(len(text))
        return text[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"]) + \
            text[at:], "bad byte"
    if kind == 6:
        text = json.dumps(payload).encode()
        return text[:rng.randrange(len(text))], "truncated"
    if kind == 7:
        return rng.choice([b"[]", b"1", b'"x"', b"null", b"true", b"", b" ", b"{}", b"{" * 3000,
                           b'{"a":1,"a":2}', b"\xef\xbb\xbf{}", json.dumps([payload]).encode()]), "not object"
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))), "random bytes"


def cases(seed: int, count: int, *, max_body: int) -> Iterator[Case]:
    rng = random.Random(seed)
    for number in range(count):
        roll = rng.random()
        if roll < 0.03:
            body, how = json.dumps(valid_signal(rng, number)).encode(), "valid"
        elif roll < 0.04:
            body, how = b'{"pad": "' + b"x" * (max_body + rng.randrange(1, 5000)) + b'"}', "oversized"
        else:
            body, how = _mutated(rng, number)
        yield Case(number, body, rng.choice(SIGNINGS), how)
