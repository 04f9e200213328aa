"""A soak scenario, drawn from its seed alone: what the bot signals, how prices move, what goes
wrong and when. The same seed always gives the same scenario (`make soak SOAK_SEED=...`).

A scenario is a list of timed `Step`s over a few seconds. `kinds` says what can happen in it;
the process-level disturbances (SIGKILL and restart, PostgreSQL stopped and started) are drawn for
one seed in four only, since each costs a restart of two seconds or more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

VENUES = {"bybit": ("bybit", "bybit"), "binanceusdm": ("binance", "binance")}  # venue: sim venue, account
SIGNAL_SYMBOLS = ("BTCUSDT", "ETHUSDT")
QUANTITY = {"BTCUSDT": "0.010", "ETHUSDT": "0.50"}
PHANTOM = ("SHIB1000USDT", "1000")
START_PRICE = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000"), "SHIB1000USDT": Decimal("0.012345")}
HANG_S = 1.5  # longer than the request timeout the scenarios give warden (1 s): a lost answer

# The REST paths a fault may be scoped to (None: every request of the venue).
FAULT_PATHS = {"bybit": (None, "/v5/order/create", "/v5/position/trading-stop", "/v5/position/list",
                         "/v5/order/realtime", "/v5/order/cancel", "/v5/execution/list"),
               "binance": (None, "/fapi/v1/order", "/fapi/v1/algoOrder", "positionRisk",
                           "/fapi/v1/openAlgoOrders", "/fapi/v1/userTrades")}
PUSH_FAULTS = ("push_drop", "push_delay", "push_duplicate", "push_reorder")


@dataclass(frozen=True)
class Step:
    at_s: float
    action: str          # signal, resend, price, venue_model, fault, clear, drop_ws, expire_key,
    args: dict[str, Any] = field(default_factory=dict)  # manual_close, phantom, kill, pg_stop, pg_start

    def describe(self) -> str:
        return f"{self.at_s:5.2f}s {self.action} {self.args}"


@dataclass(frozen=True)
class Scenario:
    seed: int
    steps: tuple[Step, ...]
    duration_s: float

    def faults(self) -> list[str]:
        """The kind of every fault and disturbance the scenario injects, one entry each."""
        names = {"fault": lambda s: s.args["kind"] + ("_lost" if s.args.get("after") else ""),
                 "drop_ws": lambda s: "drop_websockets" + ("_abrupt" if s.args["abrupt"] else ""),
                 "expire_key": lambda s: "expire_listen_key", "kill": lambda s: "sigkill",
                 "pg_stop": lambda s: "postgres_down", "manual_close": lambda s: "manual_close",
                 "phantom": lambda s: "phantom"}
        model = [k for s in self.steps if s.action == "venue_model"
                 for k in ("latency", "partial_fills") if any(a.startswith(k) for a in s.args)]
        return model + [names[s.action](s) for s in self.steps if s.action in names]


def draw(seed: int) -> Scenario:
    """The scenario of ``seed``. One seed in four (multiples of 4) also kills the service and/or
    stops PostgreSQL, so any 20 consecutive seeds hold five of those."""
    rng = random.Random(seed)
    duration = round(rng.uniform(1.0, 2.0), 2)
    heavy = seed % 4 == 0
    at = lambda lo=0.0, hi=duration: round(rng.uniform(lo, hi), 2)  # noqa: E731
    steps: list[Step] = []
    prices = dict(START_PRICE)

    signals = []
    for venue in VENUES:
        for symbol in rng.sample(SIGNAL_SYMBOLS, rng.randint(1, 2)):
            side = rng.choice(["long", "short"])
            signals.append((venue, symbol, side))
    if rng.random() < 0.3:  # another signal for a symbol already signalled: refused, either side
        venue, symbol, side = rng.choice(signals)
        signals.append((venue, symbol, rng.choice(["long", "short"])))
    for n, (venue, symbol, side) in enumerate(signals):
        sid = f"soak-{seed}-{n}"
        when = at(0.0, duration * 0.3)
        steps.append(Step(when, "signal", {"signal_id": sid, "exchange": venue, "account": VENUES[venue][1],
                                           "symbol": symbol, "side": side, "quantity": QUANTITY[symbol]}))
        if rng.random() < 0.3:  # the bot sends it again (a retry): never a second entry
            steps.append(Step(at(when, duration), "resend", {"signal_id": sid}))

    # price paths, after the entries: each symbol trends one way in steps of 0.4-1.5 %, a quarter
    # of them against the trend: far enough for a trailing stop to activate and move, and for the
    # other side's stop to be hit
    trend = {symbol: rng.choice([-1, 1]) for symbol in SIGNAL_SYMBOLS}
    for when in sorted(at(duration * 0.35) for _ in range(rng.randint(6, 12))):
        symbol = rng.choice(SIGNAL_SYMBOLS)
        way = trend[symbol] if rng.random() < 0.75 else -trend[symbol]
        prices[symbol] = (prices[symbol] * Decimal(1 + way * rng.uniform(0.004, 0.015))).quantize(
            Decimal("0.01") if symbol == "ETHUSDT" else Decimal("0.1"))
        steps.append(Step(when, "price", {"symbol": symbol, "price": str(prices[symbol])}))

    model: dict[str, Any] = {}
    if rng.random() < 0.3:  # a slower network: every answer and push late, by a jittered amount
        model.update(latency_ms=rng.choice([10, 30, 60]), jitter_ms=rng.choice([0, 10, 25]))
    if rng.random() < 0.3:  # orders fill in several executions
        model.update(partial_fills=rng.randint(2, 4))
    if model:
        steps.append(Step(0.0, "venue_model", model))
    for _ in range(rng.randint(1, 4)):
        steps.append(_fault(rng, at(), duration))
    if rng.random() < 0.25:
        venue, account = rng.choice(list(VENUES.values()))
        steps.append(Step(at(1.0), "manual_close", {"account": account,
                                                    "symbol": rng.choice(SIGNAL_SYMBOLS)}))
    if rng.random() < 0.2:
        steps.append(Step(at(), "phantom", {"account": rng.choice(list(VENUES.values()))[1],
                                            "side": rng.choice(["buy", "sell"])}))
    if heavy:
        for kind in rng.sample(["kill", "pg"], rng.randint(1, 2)):
            start = at(0.2)
            if kind == "kill":
                steps.append(Step(start, "kill", {"down_s": round(rng.uniform(0.0, 1.0), 2)}))
            else:
                down = round(rng.uniform(0.5, 2.0), 2)
                steps.append(Step(start, "pg_stop", {"mode": rng.choice(["fast", "immediate"])}))
                steps.append(Step(round(start + down, 2), "pg_start"))
    steps.sort(key=lambda s: s.at_s)
    return Scenario(seed, tuple(steps), max(duration, steps[-1].at_s))


def _fault(rng: random.Random, when: float, duration: float) -> Step:
    venue = rng.choice(["bybit", "binance"])
    kind = rng.choice(["hang", "hang", "http_error", "rate_limit", "reject_stop", "stale_fill",
                       "push", "drop_ws", "expire_key"])
    if kind == "drop_ws":
        return Step(when, "drop_ws", {"venue": venue, "abrupt": rng.random() < 0.5})
    if kind == "expire_key":
        return Step(when, "expire_key", {"close": rng.random() < 0.5})
    args: dict[str, Any] = {"kind": kind, "venue": venue}
    if kind == "push":
        args.update(kind=rng.choice(PUSH_FAULTS), seconds=0.5, batch=3,
                    clear_after_s=round(rng.uniform(0.3, 1.5), 2))
    elif kind == "stale_fill":
        args.update(seconds=round(rng.uniform(0.3, 1.5), 2), times=rng.randint(1, 3))
    elif kind == "reject_stop":
        args.update(times=rng.randint(1, 3))
    else:
        args.update(path=rng.choice(FAULT_PATHS[venue]), times=rng.randint(1, 3))
        if kind == "hang":
            args.update(seconds=HANG_S, after=rng.random() < 0.5)
        if kind == "http_error":
            args.update(status=rng.choice([500, 502, 503]))
    return Step(when, "fault", args)
