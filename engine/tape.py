"""Recording prices once per (venue, symbol): the tape rule.

Every price that reaches the engine is offered to its symbol's `PriceTape` (`observe`). The tape
records it when

1. it differs from the last price the tape recorded, and at least ``interval_s`` (the engine's
   ``tape_interval_s``, 1 s by default) passed since the tape last recorded a price under this
   rule (the engine's monotonic clock; a price equal to the last recorded is never recorded
   twice). A changed price that comes sooner is held, replaced by any later one, and recorded
   (with its own time) when the interval is over: the latest price always reaches the tape
   within ``interval_s``, even when the market then goes quiet; or
2. a position's decision used it (`used`): the price that activated trailing, the best price a
   trailing stop move follows. Such a price is recorded with its own time, unless the tape
   recorded that same (time, price) already, so a price used by many positions is there once.

A symbol's tape is read from the store the first time a price of it arrives, off the event loop
(`EngineContext.load`); until it is read, its latest price (rule 1) and the prices decisions used
(rule 2) are held, and recorded once it is. While the store cannot be read, they stay held and
the read is tried again with the next price, at most once per ``interval_s``.

So the tape grows with the number of symbols, not of positions, by at most one price per second
per symbol plus the prices decisions used; each decision itself, with the prices that caused it,
is on its position. See docs/events.md (the price tape) and docs/performance.md (log growth).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from warden.domain.price_tape import PriceTape
from warden.domain.values import PriceSource
from warden.engine.context import EngineContext

log = logging.getLogger("warden.engine.tape")
RECENT = 64  # (time, price) pairs a tape remembers having recorded, for `used`
USED_HELD = 256  # prices decisions used, held while a tape is being read


@dataclass
class _Tape:
    aggregate: PriceTape | None  # None until read from the store
    last_price: Decimal | None = None
    last_sampled: float = float("-inf")  # monotonic time of the last price recorded by rule 1
    held: tuple[Decimal, PriceSource, datetime] | None = None  # a changed price within the interval
    flush: asyncio.TimerHandle | None = None  # records ``held`` when the interval is over
    recent: deque[tuple[datetime, Decimal]] = field(default_factory=lambda: deque(maxlen=RECENT))
    used: deque[tuple[Decimal, PriceSource, datetime]] = field(
        default_factory=lambda: deque(maxlen=USED_HELD))
    reading: asyncio.Task[None] | None = None
    read_after: float = float("-inf")  # monotonic time before which a failed read is not retried


class PriceTapes:
    def __init__(self, ctx: EngineContext, interval_s: float) -> None:
        self.ctx, self.interval_s = ctx, interval_s
        self._tapes: dict[tuple[str, str], _Tape] = {}
        self.recorded = 0  # prices recorded, by either rule

    async def open(self, venue: str, symbol: str, at: datetime) -> None:
        """Read the tape of ``symbol`` now (the engine's start does, for the symbols it holds, so
        their first prices follow the rule at once); `StoreUnavailable` when it cannot be read."""
        tape = self._tape(venue, symbol, at)
        if tape.aggregate is None and tape.reading is not None:
            await asyncio.shield(tape.reading)
        if tape.aggregate is None:
            self._opened(tape, venue, symbol, at, await self.ctx.load(PriceTape.id_for(venue, symbol)))

    def observe(self, venue: str, symbol: str, price: Decimal, source: PriceSource, at: datetime,
                now: float) -> None:
        """A price arrived (rule 1); ``now`` is the monotonic time it arrived."""
        tape = self._tape(venue, symbol, at)
        if tape.aggregate is None:
            tape.held = (price, source, at)  # the latest, recorded once the tape is read
            return
        if price == tape.last_price:
            tape.held = None  # back where the tape is: nothing new to record
            return
        wait = tape.last_sampled + self.interval_s - now
        if wait > 0:
            tape.held = (price, source, at)
            if tape.flush is None:
                tape.flush = asyncio.get_running_loop().call_later(wait, self._flush, tape)
            return
        tape.last_sampled, tape.held = now, None
        self._record(tape, price, source, at)

    def _flush(self, tape: _Tape) -> None:
        tape.flush = None
        if tape.held is not None and tape.aggregate is not None:
            (price, source, at), tape.held = tape.held, None
            tape.last_sampled = self.ctx.clock.monotonic()
            self._record(tape, price, source, at)

    def stop(self) -> None:
        """Record the prices still held (the tape ends with the latest price) and stop the timers."""
        for (venue, symbol), tape in self._tapes.items():
            if tape.reading is not None:
                tape.reading.cancel()
            if tape.flush is not None:
                tape.flush.cancel()
            try:
                self._flush(tape)
            except Exception:  # shutting down with the store failing: only this sample is lost
                log.exception("the last price of %s/%s was not recorded", venue, symbol)

    def used(self, venue: str, symbol: str, price: Decimal, source: PriceSource, at: datetime) -> None:
        """A decision used this price, seen at ``at`` (rule 2)."""
        tape = self._tape(venue, symbol, at)
        if tape.aggregate is None:
            tape.used.append((price, source, at))
        elif (at, price) not in tape.recent:
            self._record(tape, price, source, at)

    def _record(self, tape: _Tape, price: Decimal, source: PriceSource, at: datetime) -> None:
        if tape.aggregate is None:  # not read yet: held like any other price
            tape.held = (price, source, at)
            return
        tape.aggregate.record(price=price, source=source, at=at)
        tape.last_price = price
        if tape.held is not None and tape.held[0] == price:
            tape.held = None  # a decision's price that rule 1 was holding: on the tape now
        tape.recent.append((at, price))
        self.recorded += 1
        self.ctx.record(tape.aggregate)

    def _tape(self, venue: str, symbol: str, at: datetime) -> _Tape:
        tape = self._tapes.get((venue, symbol))
        if tape is None:
            tape = self._tapes[venue, symbol] = _Tape(None)
        if tape.aggregate is None and tape.reading is None and \
                self.ctx.clock.monotonic() >= tape.read_after:
            tape.reading = asyncio.get_running_loop().create_task(
                self._read(tape, venue, symbol, at), name=f"tape:{venue}/{symbol}")
        return tape

    async def _read(self, tape: _Tape, venue: str, symbol: str, at: datetime) -> None:
        """Read the tape off the loop, then record what was held for it, in order."""
        try:
            aggregate = await self.ctx.load(PriceTape.id_for(venue, symbol))
        except Exception as e:  # StoreUnavailable, or the store's own failure: held, read again later
            tape.read_after = self.ctx.clock.monotonic() + self.interval_s
            log.warning("the price tape of %s/%s cannot be read yet (%s); its prices are held",
                        venue, symbol, e)
            return
        finally:
            tape.reading = None
        self._opened(tape, venue, symbol, at, aggregate)

    def _opened(self, tape: _Tape, venue: str, symbol: str, at: datetime,
                aggregate: PriceTape | None) -> None:
        if tape.aggregate is not None:
            return
        tape.aggregate = aggregate or PriceTape.open(venue=venue, symbol=symbol, at=at)
        tape.last_price = tape.aggregate.last_price
        while tape.used:
            self.used(venue, symbol, *tape.used.popleft())
        if tape.held is not None:
            (price, source, held_at), tape.held = tape.held, None
            self.observe(venue, symbol, price, source, held_at, self.ctx.clock.monotonic())
