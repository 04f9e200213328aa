"""The demo's script: what the outside world does, scenario by scenario, and what must follow.

Each scenario drives the simulated exchange (prices, faults, hand-made positions, websocket
drops) or sends a signal, then waits for the outcome warden must reach on its own. A scenario
that does not get there raises `ScenarioFailed`, which the demo reports as a violation.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal

from warden.domain.lifecycle import Status
from warden.domain.position import Position
from warden.domain.values import CloseReason, Origin, PriceSource
from warden.runtime.demo.narrator import Narrator
from warden.runtime.demo.world import World

PRECISION = "price must be greater than minimum price precision"


class Script:
    def __init__(self, world: World, narrator: Narrator, echo: Callable[[str], None]) -> None:
        self.world, self.narrator, self.echo = world, narrator, echo
        self.sim = world.sim.control
        self.engine = world.engine
        self.rng = random.Random(world.seed)  # the seed also jitters the scripted price paths
        self.signals: list[str] = []

    def header(self, scenario: str, text: str) -> None:
        self.narrator.scenario = scenario
        self.echo(f"\n== {scenario} ==\n   {text}")

    def note(self, text: str) -> None:
        self.echo(f"   ... {text}")

    async def signal(self, signal_id: str, exchange: str, symbol: str, side: str, qty: str) -> Position:
        """Send a bot signal and wait for its open saga to finish."""
        account = "bybit" if exchange == "bybit" else "binance"
        outcome = await self.engine.submit({"signal_id": signal_id, "exchange": exchange,
                                            "account": account, "symbol": symbol, "side": side,
                                            "quantity": qty})
        self.world.expect(outcome.status == "accepted", f"signal {signal_id} accepted ({outcome.reason})")
        self.signals.append(signal_id)
        self.narrator.label(outcome.position_id, self.narrator.scenario)
        await self.engine.idle()
        return self.narrator.positions[outcome.position_id]

    def price(self, symbol: str, price: Decimal) -> Decimal:
        return Decimal(self.sim.set_price(symbol, price))

    async def mark(self, p: Position, price: Decimal) -> Decimal:
        """Move the venue's price and wait until warden has seen it and acted on it."""
        price = self.price(p.symbol, price)
        await self.world.until(f"{p.symbol} mark {price} seen",
                               lambda: not p.is_open or (self.engine.last_price(p.venue, p.symbol) == price
                                                         and not self.engine.trailing.lanes.busy(p.id)
                                                         and not p.pending_intent))
        await self.world.pause(0.2)
        return price

    # ----- the scenarios ----------------------------------------------------------------------
    async def aged_exit(self) -> None:
        self.header("aged exit", "ETHUSDT long on Bybit, held too long: the demo skips simulated minutes")
        p = await self.signal("demo-aged", "bybit", "ETHUSDT", "long", "0.10")
        await self.mark(p, p.entry_price * Decimal("0.998"))
        self.world.clock.advance(301)
        self.note("5 simulated minutes later (max age 300 s)")
        await self.world.until("ETHUSDT aged", lambda: p.status is Status.AGED)
        await self.world.pause(0.5)
        self.world.expect(p.is_open, "an aged position waits for its phase's price")
        self.world.expect(p.exit_limit is not None, "its reduce-only exit order rests on the venue")
        self.note(f"a reduce-only limit order rests on the venue at {p.exit_limit}")
        self.world.clock.advance(60)
        self.note("one more simulated minute: phase 2 accepts a small loss")
        await self.world.until("ETHUSDT closed", lambda: not p.is_open)
        self.world.expect(p.close_reason is CloseReason.AGED_EXIT, f"aged exit, not {p.close_reason}")

    async def seed_incident(self) -> None:
        self.header("seed incident", "10000SATSUSDT long on Bybit: the order query reports no price "
                                     "(stale_fill) and the first stop is refused for precision (10001)")
        self.sim.inject("stale_fill", venue="bybit", seconds=1.0)
        self.sim.inject("reject_stop", venue="bybit", times=1, code=10001, message=PRECISION)
        p = await self.signal("demo-seed", "bybit", "10000SATSUSDT", "long", "100000")
        self.sim.clear_faults("stale_fill")
        self.world.expect(p.status is Status.PROTECTED, f"10000SATSUSDT protected, not {p.status.name}")
        self.world.expect(p.stop_rejections >= 1, "the first stop was rejected")
        sources = [e.price_source for e in self.world.store.history(p.id)
                   if type(e).__name__ == "EntryFilled"]
        queries = [r for r in self.sim.requests("bybit", "/v5/order/") if r["method"] == "GET"]
        self.note(f"Bybit's create answer has no price and its order query showed none ({len(queries)} "
                  f"order queries); the price came from {', '.join(s.name for s in sources)}, never 0")
        self.world.expect(sources and PriceSource.ORDER_RESPONSE not in sources,
                          "the fill price came from somewhere other than the order response")

    async def phantom(self) -> None:
        self.header("phantom", "someone opens BTCUSDT long 0.020 on the Bybit account by hand")
        self.sim.open_position("bybit", "BTCUSDT", "buy", "0.020")

        def adopted() -> Position | None:
            return next((p for p in self.narrator.positions.values() if p.origin is Origin.ADOPTED
                         and p.symbol == "BTCUSDT" and p.status is Status.PROTECTED), None)
        await self.world.until("the BTCUSDT phantom adopted and protected", lambda: adopted() is not None)
        self.narrator.label(adopted().id, "phantom")

    async def binance_short(self) -> None:
        self.header("binance short", "BTCUSDT short on Binance USD-M: protected by an algo STOP_MARKET")
        p = await self.signal("demo-short", "binanceusdm", "BTCUSDT", "short", "0.010")
        self.world.expect(p.status is Status.PROTECTED, f"the short protected, not {p.status.name}")

    async def websocket_outage(self) -> None:
        self.header("websocket outage", "ETHUSDT long on Binance; its pushes are lost while someone "
                                        "closes it by hand, then the websockets drop")
        p = await self.signal("demo-outage", "binanceusdm", "ETHUSDT", "long", "0.10")
        await asyncio.sleep(1.0)  # the stream's REST check of the entry's pushes is done (verify_after)
        self.sim.inject("push_drop", venue="binance")
        self.sim.close_position("binance", "ETHUSDT")
        await self.world.pause(0.5)
        self.note(f"closed on the exchange; warden heard nothing: still {p.status.name}")
        self.world.expect(p.is_open, "no push reached warden while they were dropped")
        self.sim.clear_faults("push_drop")
        dropped = await self.sim.drop_websockets("binance")
        self.note(f"{dropped} Binance websocket(s) dropped; the streams reconnect and resync by REST")
        await self.world.until("the outage repaired by the resync", lambda: not p.is_open)
        self.world.expect(p.close_reason is CloseReason.MANUAL,
                          f"closed by hand (the venue's order says so), not {p.close_reason}")

    async def trailing(self) -> None:
        self.header("trailing stop", "SHIB1000USDT long on Bybit: the price rises 3%, the stop follows; "
                                     "then it falls through the stop")
        p = await self.signal("demo-trail", "bybit", "SHIB1000USDT", "long", "1000")
        entry = p.entry_price
        for percent in ("0.6", "1.2", "2.0", "2.8", "2.3"):
            jitter = Decimal(str(round(self.rng.uniform(-0.1, 0.1), 2)))
            await self.mark(p, entry * (1 + (Decimal(percent) + jitter) / 100))
        self.world.expect(p.status is Status.TRAILING, f"trailing, not {p.status.name}")
        moved = [e for e in self.world.store.history(p.id) if type(e).__name__ == "StopLossMoved"]
        self.world.expect(len(moved) >= 2, "the stop moved up at least twice")
        self.note(f"the price falls below the stop at {p.stop_price}")
        self.price(p.symbol, p.stop_price - p.instrument.tick_size)
        await self.world.until("the trailing stop hit", lambda: not p.is_open)
        self.world.expect(p.close_reason is CloseReason.TRAILING_STOP_HIT,
                          f"trailing stop hit, not {p.close_reason}")

    async def market_noise(self) -> None:
        self.header("market", "a few seconds of the seeded random walk on the open positions' symbols")
        for _ in range(5):
            self.sim.step(count=1, symbols=["BTCUSDT", "10000SATSUSDT"])
            await self.world.pause(0.2)
        await self.world.pause(0.5)

    SCENARIOS = ("aged_exit", "seed_incident", "phantom", "binance_short", "websocket_outage",
                 "trailing", "market_noise")
