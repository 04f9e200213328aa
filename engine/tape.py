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

from eventsourcing.application import AggregateNotFoundError

from warden.domain.price_tape import PriceTape
from warden.domain.values import PriceSource
from warden.engine.context import EngineContext

log = logging.getLogger("warden.engine.tape")
RECENT = 64  # (time, price) pairs a tape remembers having recorded, for `used`


@dataclass
class _Tape:
    aggregate: PriceTape
    last_price: Decimal | None
    last_sampled: float = float("-inf")  # monotonic time of the last price recorded by rule 1
    held: tuple[Decimal, PriceSource, datetime] | None = None  # a changed price within the interval
    flush: asyncio.TimerHandle | None = None  # records ``held`` when the interval is over
    recent: deque[tuple[datetime, Decimal]] = field(default_factory=lambda: deque(maxlen=RECENT))


class PriceTapes:
    def __init__(self, ctx: EngineContext, interval_s: float) -> None:
        self.ctx, self.interval_s = ctx, interval_s
        self._tapes: dict[tuple[str, str], _Tape] = {}
        self.recorded = 0  # prices recorded, by either rule

    def observe(self, venue: str, symbol: str, price: Decimal, source: PriceSource, at: datetime,
                now: float) -> None:
        """A price arrived (rule 1); ``now`` is the monotonic time it arrived."""
        tape = self._tape(venue, symbol, at)
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
        if tape.held is not None:
            (price, source, at), tape.held = tape.held, None
            tape.last_sampled = self.ctx.clock.monotonic()
            self._record(tape, price, source, at)

    def stop(self) -> None:
        """Record the prices still held (the tape ends with the latest price) and stop the timers."""
        for tape in self._tapes.values():
            if tape.flush is not None:
                tape.flush.cancel()
            try:
                self._flush(tape)
            except Exception:  # shutting down with the store failing: only this sample is lost
                log.exception("the last price of %s/%s was not recorded", tape.aggregate.venue,
                              tape.aggregate.symbol)

    def used(self, venue: str, symbol: str, price: Decimal, source: PriceSource, at: datetime) -> None:
        """A decision used this price, seen at ``at`` (rule 2)."""
        tape = self._tape(venue, symbol, at)
        if (at, price) not in tape.recent:
            self._record(tape, price, source, at)

    def _record(self, tape: _Tape, price: Decimal, source: PriceSource, at: datetime) -> None:
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
            try:
                aggregate = self.ctx.store.load(PriceTape.id_for(venue, symbol))
            except AggregateNotFoundError:  # its first price; any other store error propagates
                aggregate = PriceTape.open(venue=venue, symbol=symbol, at=at)
            tape = self._tapes[venue, symbol] = _Tape(aggregate, aggregate.last_price)
        return tape
