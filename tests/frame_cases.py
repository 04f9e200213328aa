"""A seeded generator of malformed websocket frames, for both venues: real frames (the shapes the
simulator and the venues send) cut short, given wrong types, huge or exotic numbers, ``NaN``, lone
surrogates, deep nesting, impossible prices, unknown topics; binary and empty frames; random text.

`frames(seed, count)` yields the same frames for the same seed, so a failure is reproduced with
``WARDEN_FUZZ_SEED=<seed> make fuzz``. Every frame is garbage: a feed must refuse each one.
Frames that are not even valid UTF-8 text are left out: the websocket protocol itself fails the
connection on those (tested on their own).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MS = 1700000000000
BYBIT: list[dict[str, Any]] = [
    {"id": "1", "topic": "position", "creationTime": MS, "data": [{
        "symbol": "BTCUSDT", "side": "Buy", "size": "0.010", "avgPrice": "60010.5", "positionIdx": 0,
        "leverage": "10", "markPrice": "60000.1", "positionValue": "600.105", "unrealisedPnl": "-0.1",
        "curRealisedPnl": "-0.33", "cumRealisedPnl": "-0.33", "liqPrice": "", "bustPrice": "",
        "stopLoss": "58800", "takeProfit": "", "trailingStop": "0", "tpslMode": "Full",
        "createdTime": str(MS), "updatedTime": str(MS), "seq": MS, "category": "linear"}]},
    {"id": "2", "topic": "order", "creationTime": MS, "data": [{
        "orderId": "0000-1", "orderLinkId": "cid-1", "symbol": "BTCUSDT", "side": "Buy",
        "orderType": "Market", "price": "0", "qty": "0.010", "orderStatus": "Filled",
        "avgPrice": "60010.5", "cumExecQty": "0.010", "cumExecValue": "600.105", "cumExecFee": "0.33",
        "leavesQty": "0", "reduceOnly": False, "triggerPrice": "", "stopOrderType": "",
        "createdTime": str(MS), "updatedTime": str(MS), "category": "linear"}]},
    {"id": "3", "topic": "execution", "creationTime": MS, "data": [{
        "execId": "e-1", "orderId": "0000-1", "orderLinkId": "cid-1", "symbol": "BTCUSDT", "side": "Buy",
        "execType": "Trade", "execPrice": "60010.5", "execQty": "0.010", "execValue": "600.105",
        "execFee": "0.33", "feeCurrency": "USDT", "execTime": str(MS), "category": "linear"}]},
    {"topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 1, "ts": MS, "data": {
        "symbol": "BTCUSDT", "lastPrice": "60000.1", "markPrice": "60000.1", "indexPrice": "60000.1",
        "bid1Price": "60000", "ask1Price": "60000.2", "fundingRate": "0.0001",
        "nextFundingTime": "0"}},
]
BINANCE: list[dict[str, Any]] = [
    {"e": "ORDER_TRADE_UPDATE", "E": MS, "T": MS, "o": {
        "s": "BTCUSDT", "c": "cid-1", "S": "BUY", "o": "MARKET", "q": "0.010", "p": "0",
        "ap": "60010.5", "sp": "0", "x": "TRADE", "X": "FILLED", "i": 1001, "l": "0.010", "z": "0.010",
        "L": "60010.5", "N": "USDT", "n": "0.30", "T": MS, "t": 7, "R": False, "ps": "BOTH",
        "rp": "0"}},
    {"e": "ACCOUNT_UPDATE", "E": MS, "T": MS, "a": {"m": "ORDER", "B": [
        {"a": "USDT", "wb": "9999.7", "cw": "9999.7", "bc": "0"}], "P": [
        {"s": "BTCUSDT", "pa": "0.010", "ep": "60010.5", "bep": "60010.5", "cr": "0", "up": "0",
         "mt": "cross", "iw": "0", "ps": "BOTH"}]}},
    {"e": "ALGO_UPDATE", "E": MS, "T": MS, "o": {
        "caid": "cid-2", "aid": 1002, "at": "CONDITIONAL", "o": "STOP_MARKET", "s": "BTCUSDT",
        "S": "SELL", "q": "0.010", "X": "NEW", "tp": "58800", "p": "0", "R": True, "cp": False}},
    {"e": "markPriceUpdate", "E": MS, "s": "BTCUSDT", "p": "60000.1", "i": "60000.1",
     "P": "60000.1", "r": "0.0001", "T": MS + 3_600_000},
]
TEMPLATES = {"bybit": BYBIT, "binance": BINANCE}

# The fields a feed reads, by kind, as paths into each template ("data.0.size": data[0]["size"]).
_BYBIT_ITEM = {"position": {"price": ["avgPrice", "markPrice", "stopLoss"], "quantity": ["size"],
                            "signed": ["unrealisedPnl"], "time": ["updatedTime"]},
               "order": {"price": ["avgPrice"], "quantity": ["qty", "cumExecQty"], "signed": ["cumExecFee"],
                         "time": ["updatedTime"]},
               "execution": {"price": ["execPrice"], "quantity": ["execQty"], "signed": ["execFee"],
                             "time": ["execTime"]},
               "tickers": {"price": ["markPrice", "lastPrice"], "signed": ["fundingRate"]}}
_BINANCE_PATHS = {"ORDER_TRADE_UPDATE": ("o", {"price": ["ap", "L"], "quantity": ["q", "z", "l"],
                                               "signed": ["n"], "time": ["T"]}),
                  "ACCOUNT_UPDATE": ("a.P.0", {"price": ["ep"], "signed": ["pa", "up"]}),
                  "ALGO_UPDATE": ("o", {"price": ["tp"], "quantity": ["q"]}),
                  "markPriceUpdate": ("", {"price": ["p", "i"], "signed": ["r"], "time": ["E", "T"]})}
NUMBERS = ("price", "quantity", "signed", "time")

WRONG = [[], {}, True, None, [1, [2]], {"x": 1}, "abc", "1,5", "0x10", "1_000", " ", "--1", "١٢٣"]
HUGE = ["1e400", "-1e400", "1e16", 10**30, "9" * 400, "1E+999999999", -(10**20)]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "nan", "inf", "sNaN", "1e-20", "0.0000000000001"]
IMPOSSIBLE = ["-5", "-0.1", "1e20", *NON_FINITE]
RAW_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000, "1E999999999"]
BAD_SYMBOLS = [5, "", "btc usdt", "BTC/USDT", "X" * 40, "BTCUSDT\u0000", ["BTCUSDT"], "\u00c9THUSDT"]


@dataclass(frozen=True)
class Frame:
    number: int
    venue: str  # the simulator's venue: "bybit" or "binance"
    data: str | bytes
    binary: bool
    how: str


def frames(seed: int, count: int) -> Iterator[Frame]:
    rng = random.Random(seed)
    for number in range(count):
        venue = ("bybit", "binance")[number % 2]
        mutate = rng.choices(list(MUTATIONS), weights=[w for w, _ in MUTATIONS.values()])[0]
        data, how = MUTATIONS[mutate][1](rng, venue)
        yield Frame(number, venue, data, isinstance(data, bytes), f"{mutate}: {how}")


# -- paths into a template -----------------------------------------------------------------------
def _fields(template: dict[str, Any], venue: str) -> tuple[str, dict[str, list[str]]]:
    """The prefix to the template's report object and its fields by kind."""
    if venue == "bybit":
        topic = template["topic"].split(".")[0]
        return ("data" if topic == "tickers" else "data.0"), _BYBIT_ITEM[topic]
    return _BINANCE_PATHS[template["e"]]


def _set(frame: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = frame
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _pick(rng: random.Random, venue: str, kinds: tuple[str, ...]) -> tuple[dict[str, Any], str, str]:
    """A fresh copy of a template, the path of one of its fields of the given kinds, and its kind."""
    template = json.loads(json.dumps(rng.choice(TEMPLATES[venue])))
    prefix, fields = _fields(template, venue)
    choices = [(name, kind) for kind in kinds for name in fields.get(kind, [])]
    if "symbol" in kinds:
        choices.append(("symbol" if venue == "bybit" else "s", "symbol"))
    field, kind = rng.choice(choices)
    return template, f"{prefix}.{field}".lstrip("."), kind


def _with_literal(frame: dict[str, Any], path: str, literal: str) -> str:
    """The frame's text with one value replaced by a literal json.dumps cannot write."""
    _set(frame, path, "\u0000PLACEHOLDER\u0000")
    return json.dumps(frame).replace('"\\u0000PLACEHOLDER\\u0000"', literal)


# -- the mutations -------------------------------------------------------------------------------
def truncated(rng: random.Random, venue: str) -> tuple[str, str]:
    text = json.dumps(rng.choice(TEMPLATES[venue]))
    cut = rng.randrange(1, len(text) - 1)
    return text[:cut], f"cut at {cut} of {len(text)}"


def wrong_type(rng: random.Random, venue: str) -> tuple[str, str]:
    template = json.loads(json.dumps(rng.choice(TEMPLATES[venue])))
    containers = (["data"] if venue == "bybit" else
                  {"ORDER_TRADE_UPDATE": ["o"], "ALGO_UPDATE": ["o"], "ACCOUNT_UPDATE": ["a", "a.P", "a.P.0"],
                   "markPriceUpdate": []}[template["e"]])
    prefix, fields = _fields(template, venue)
    leaves = [f"{prefix}.{f}".lstrip(".") for names in fields.values() for f in names]
    path = rng.choice(containers + leaves)
    value = rng.choice(["x", 5, None, [1]] if path in containers else WRONG)
    _set(template, path, value)
    return json.dumps(template), f"{path} = {value!r}"


def exotic_number(rng: random.Random, venue: str) -> tuple[str, str]:
    template, path, kind = _pick(rng, venue, NUMBERS)
    if rng.random() < 0.4:
        literal = rng.choice(RAW_LITERALS)
        return _with_literal(template, path, literal), f"{path} = {literal[:20]} (literal)"
    # a negative amount is a short position, a rebate: not exotic where the sign is allowed
    value = rng.choice(HUGE + (NON_FINITE if kind == "signed" else IMPOSSIBLE))
    _set(template, path, value)
    return json.dumps(template), f"{path} = {str(value)[:20]!r}"


def impossible_price(rng: random.Random, venue: str) -> tuple[str, str]:
    template, path, _ = _pick(rng, venue, ("price",))
    value = rng.choice([*IMPOSSIBLE, "-60000", "1e30", "0.00000000000001"])
    _set(template, path, value)
    return json.dumps(template), f"{path} = {value!r}"


def bad_symbol(rng: random.Random, venue: str) -> tuple[str, str]:
    template, path, _ = _pick(rng, venue, ("symbol",))
    value = rng.choice(BAD_SYMBOLS)
    _set(template, path, value)
    return json.dumps(template), f"{path} = {value!r}"


def lone_surrogate(rng: random.Random, venue: str) -> tuple[str, str]:
    template = json.loads(json.dumps(rng.choice(TEMPLATES[venue])))
    key = rng.choice(["\ud800", "\udfff", "x\udc00y"])
    where = rng.choice(["value", "key"])
    if where == "value":
        template["note"] = key
    else:
        template[key] = 1
    return json.dumps(template), f"a lone surrogate as a {where}"  # \\ud800 escapes: valid UTF-8


def deep(rng: random.Random, venue: str) -> tuple[str, str]:
    depth = rng.choice([8, 20, 200, 5_000, 100_000])
    shape = rng.randrange(3)
    if shape == 0:
        return "[" * depth + "]" * depth, f"{depth} nested lists"
    if shape == 1:
        return '{"a":' * depth + "1" + "}" * depth, f"{depth} nested objects"
    template, path, _ = _pick(rng, venue, ("price", "quantity"))
    _set(template, path, "\u0000PLACEHOLDER\u0000")
    nested = "[" * depth + "1" + "]" * depth
    return json.dumps(template).replace('"\\u0000PLACEHOLDER\\u0000"', nested), f"{path} nested {depth}"


def binary(rng: random.Random, venue: str) -> tuple[bytes, str]:
    real = json.dumps(rng.choice(TEMPLATES[venue])).encode()  # even a real frame, sent as binary
    data = rng.choice([real, rng.randbytes(rng.randrange(0, 300))])
    return data, f"{len(data)} bytes"


def empty(rng: random.Random, venue: str) -> tuple[str, str]:
    text = rng.choice(["", " ", "\n", "\t \r\n"])
    return text, repr(text)


def not_an_object(rng: random.Random, venue: str) -> tuple[str, str]:
    text = rng.choice(["1", '"position"', "[1, 2]", "null", "true", "1.5", "[]", "[{}]", '[{"e": 1}]',
                       "{}", '{"op": 5}', '{"op": "auth2"}', '{"e": null}', '{"topic": ["position"]}'])
    return text, text


def unknown_shape(rng: random.Random, venue: str) -> tuple[str, str]:
    template = json.loads(json.dumps(rng.choice(TEMPLATES[venue])))
    if venue == "bybit":
        value = rng.choice(["positions", "orderbook.50.BTCUSDT", "", "order ", "POSITION", "tickers"])
        template["topic"] = value
        if value == "tickers":
            template["data"] = "x"  # a known topic with its data of the wrong shape
    else:
        value = rng.choice(["ORDER_UPDATE", "", "account_update", "ACCOUNT_UPDATE ", 5, None])
        template["e"] = value
    return json.dumps(template), f"topic/event {value!r}"


def oversized(rng: random.Random, venue: str) -> tuple[str, str]:
    template = json.loads(json.dumps(rng.choice(TEMPLATES[venue])))
    size = rng.choice([300, 5_000, 600_000])
    template["padding"] = "x" * size
    return json.dumps(template), f"a {size}-character string"


def random_text(rng: random.Random, venue: str) -> tuple[str, str]:
    alphabet = string.printable + "{}[]\":,é€\u2028\U0001f4a5"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200)))
    return "{" + text if rng.random() < 0.5 else text, f"{len(text)} random characters"


MUTATIONS: dict[str, tuple[int, Callable[[random.Random, str], tuple[str | bytes, str]]]] = {
    "truncated": (12, truncated), "wrong_type": (14, wrong_type), "exotic_number": (14, exotic_number),
    "impossible_price": (10, impossible_price), "bad_symbol": (6, bad_symbol),
    "lone_surrogate": (6, lone_surrogate), "deep": (6, deep), "binary": (6, binary), "empty": (3, empty),
    "not_an_object": (6, not_an_object), "unknown_shape": (8, unknown_shape), "oversized": (2, oversized),
    "random_text": (6, random_text),
}
