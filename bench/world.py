"""The market the engine benchmark runs in: the simulator in a thread, its accounts, a price driver.

The simulator (`warden.sim`, the same one the tests use) runs on its own event loop in a daemon
thread (`SimulatorThread`), with the venue's latency on. It lists only the benchmark's instruments:
cheap linear perpetuals ``B000USDT``, ``B001USDT``... (price 1, tick 0.0001, step 1), so a thousand
small positions fit in the simulated wallets. Accounts come in pairs, one per venue.

`PriceDriver` moves prices from inside the simulator's loop: every symbol it drives changes
``per_symbol_hz`` times a second, the steps spread evenly over the second (a round-robin, not a
burst), by a seeded random step or a steady drift, and it counts the price frames the venue
pushed for them (one per public session that subscribed the symbol: what the engine receives).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from decimal import Decimal

from warden.sim.market import Instrument
from warden.sim.server import AccountSpec, SimulatorThread

VENUES = ("bybit", "binanceusdm")  # warden's names; the simulator says "binance"
SIM_VENUE = {"bybit": "bybit", "binanceusdm": "binance"}
VOLATILITY = Decimal("0.0003")  # relative step of the random walk: ~0.7 % in a minute at 10 Hz


def symbols(n: int) -> list[str]:
    return [f"B{i:03d}USDT" for i in range(n)]


def instruments(n: int) -> list[Instrument]:
    d = Decimal
    return [Instrument(s, s.removesuffix("USDT"), d("0.0001"), d("1"), d("1"), d("10000000"),
                       d("0.0001"), d("1000"), d("5"), d("1.0000"), max_leverage=50)
            for s in symbols(n)]


@dataclass(frozen=True)
class BenchAccount:
    venue: str  # warden's venue name
    name: str
    key: str
    secret: str

    @property
    def key_env(self) -> str:
        return f"BENCH_KEY_{self.name.upper().replace('-', '_')}"

    @property
    def secret_env(self) -> str:
        return f"BENCH_SECRET_{self.name.upper().replace('-', '_')}"


def accounts(per_venue: int) -> list[BenchAccount]:
    return [BenchAccount(venue, f"{SIM_VENUE[venue]}-{i}", f"{SIM_VENUE[venue]}-key-{i}",
                         f"{SIM_VENUE[venue]}-secret-{i}")
            for i in range(per_venue) for venue in VENUES]


def start_simulator(n_symbols: int, per_venue: int, *, latency_ms: float, jitter_ms: float,
                    seed: int = 8) -> SimulatorThread:
    specs = [AccountSpec(a.name, SIM_VENUE[a.venue], a.key, a.secret, balance=Decimal(1_000_000))
             for a in accounts(per_venue)]
    thread = SimulatorThread(accounts=specs, instruments=instruments(n_symbols), seed=seed,
                             latency_ms=latency_ms, jitter_ms=jitter_ms).start()
    assert thread.sim is not None
    thread.sim.feed.volatility = VOLATILITY
    return thread


class PriceDriver:
    """Moves ``symbols`` at ``per_symbol_hz`` each, on the simulator's loop, until stopped."""

    def __init__(self, thread: SimulatorThread, driven: list[str], per_symbol_hz: float,
                 drift: Decimal | None = None) -> None:
        """``drift``: each change multiplies the price by (1 + drift) instead of a random step."""
        self.thread, self.symbols, self.hz, self.drift = thread, driven, per_symbol_hz, drift
        self.steps = 0  # price changes made
        self.frames = 0  # price frames pushed to public sessions for them
        self.started_at: float | None = None
        self.stopped_at: float | None = None  # wall time (time.time()) of the last change
        self._future: asyncio.Future[None] | None = None

    def start(self) -> None:
        self.started_at = time.time()
        self._future = asyncio.run_coroutine_threadsafe(self._run(), self.thread.loop)  # type: ignore[assignment]

    def stop(self) -> float:
        """Stop moving prices; the wall time of the last change."""
        if self._future is not None:
            self._future.cancel()
            with contextlib.suppress(Exception):
                self._future.result(5)
        return self.stopped_at or time.time()

    async def _run(self) -> None:
        sim = self.thread.sim
        assert sim is not None
        loop = asyncio.get_running_loop()
        interval = 1.0 / (self.hz * len(self.symbols))
        due = loop.time()
        for symbol in itertools.cycle(self.symbols):
            due += interval
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.drift is None:
                sim.feed.step([symbol])
            else:
                sim.feed.set_price(symbol, sim.feed.price(symbol) * (1 + self.drift))
            self.steps += 1
            self.stopped_at = time.time()
            low = symbol.lower()
            self.frames += sum(1 for s in sim.hub.sessions if not s.private
                               and any(low in t.lower() for t in s.topics))
