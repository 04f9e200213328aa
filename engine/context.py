"""What every engine process shares: the store, the exchange ports, policies, the clock.

Processes mutate aggregates only through their commands and record each step as soon as it is
taken: ``await ctx.save(p)`` queues its events for the store's group commit (off the event loop)
and returns once they are durable, so an intent is on disk before the exchange call it announces.
``checkpoint`` names the points between those steps; tests inject a crash there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from warden.domain.instrument import Instrument
from warden.domain.policies import DEFAULT_POLICIES, AgedExitPolicy, InitialStopPolicy, TrailingStopPolicy
from warden.domain.position import Position
from warden.domain.values import PhantomPolicy
from warden.engine.ports import EventStore, ExchangePort

log = logging.getLogger("warden.engine")


class Clock(Protocol):
    def now(self) -> datetime: ...
    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class OffsetClock(SystemClock):
    """Wall time that can be pushed forward (simulated ages in the demo and tests); monotonic
    time stays real so timeouts and throttles still measure real waiting."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass(frozen=True)
class EngineConfig:
    initial_stop: InitialStopPolicy = DEFAULT_POLICIES.initial_stop
    trailing: TrailingStopPolicy = DEFAULT_POLICIES.trailing
    aged: AgedExitPolicy = DEFAULT_POLICIES.aged
    phantom_policy: PhantomPolicy = DEFAULT_POLICIES.phantom
    scale_in: bool = DEFAULT_POLICIES.scale_in  # see `Policies.scale_in`
    stop_attempts: int = 3  # placements of one stop before the position is rolled back
    fill_timeout_s: float = 5.0  # budget of one run of the execution price chain
    fill_rounds: int = 3  # runs of the chain before the position is checked on the exchange
    confirm_rounds: int = 20  # position queries while waiting for a close to show flat
    retry_delay_s: float = 0.2
    reconcile_interval_s: float = 30.0
    tape_interval_s: float = 1.0  # the price tape's sampling (engine/tape.py, rule 1)


def entry_exposure_bound_s(config: EngineConfig, request_timeout_s: float) -> float:
    """The longest an entry can stay on the venue without a stop, fill to first stop (seconds):
    the answer to the entry order (or, lost, three client-id queries), ``fill_rounds`` runs of the
    price chain (each ends at its ``fill_timeout_s`` deadline, plus the one request in flight)
    and a position read, then ``stop_attempts`` placements, each with its answer, a re-read of the
    mark, and three reads of the venue's stops when the answer was lost. After that the position
    is protected or being rolled back at market."""
    request = request_timeout_s + config.retry_delay_s
    return (4 * request + config.fill_rounds * (config.fill_timeout_s + request) + request
            + config.stop_attempts * 5 * request)


def no_checkpoint(name: str) -> None:
    """Production checkpoints do nothing; tests raise from here to simulate a crash."""


class EngineContext:
    def __init__(self, store: EventStore, ports: dict[tuple[str, str], ExchangePort],
                 config: EngineConfig, clock: Clock,
                 checkpoint: Callable[[str], None] = no_checkpoint) -> None:
        self.store, self.ports, self.config, self.clock = store, ports, config, clock
        self.account_configs: dict[tuple[str, str], EngineConfig] = {}  # per-account policies
        self.checkpoint = checkpoint
        self.instruments: dict[str, dict[str, Instrument]] = {}
        self.positions: dict[UUID, Position] = {}  # every open position warden tracks
        self._locks: dict[UUID, asyncio.Lock] = {}
        self.listeners: list[Callable[[list[Any]], None]] = []  # called with each save's recordings
        self.append_timers: list[Callable[[float], None]] = []  # each save's seconds, queued to durable

    def now(self) -> datetime:
        return self.clock.now()

    def save(self, *aggregates: Any) -> asyncio.Future[list[Any]]:
        """Queue the aggregates' pending events now; ``await`` the result for them to be durable.
        Listeners and timers run once they are, whether or not the caller still waits."""
        # a caller cancelled while waiting does not cancel the commit (nor its listeners)
        return asyncio.shield(self.commit(*aggregates))

    def commit(self, *aggregates: Any) -> asyncio.Future[list[Any]]:
        """`save` without the shield: the store's own future, which `EventStore.withdraw` knows."""
        started = time.perf_counter()
        committed = self.store.record(*aggregates)
        committed.add_done_callback(lambda done: self._saved(done, aggregates, started))
        return committed

    async def load(self, aggregate_id: UUID) -> Any | None:
        """The aggregate as stored, or None when nothing is recorded under that id. Read off the
        event loop (`EventStore.read`): `StoreUnavailable` while the store is down or does not
        answer in time, never "not recorded"."""
        try:
            return await self.store.read(self.store.load, aggregate_id)
        except AggregateNotFoundError:
            return None

    def record(self, *aggregates: Any) -> asyncio.Future[list[Any]]:
        """Save what no step waits on (the price tape, a mark, a refused signal): queued now, in
        order with every other save, committed with the writer's next batch; a failure is logged.
        The future may be awaited all the same."""
        committed = self.store.record(*aggregates)
        committed.add_done_callback(lambda done: self._saved(done, aggregates, time.perf_counter(),
                                                             awaited=False))
        return committed

    def _saved(self, done: asyncio.Future[list[Any]], aggregates: tuple[Any, ...], started: float,
               *, awaited: bool = True) -> None:
        error = None if done.cancelled() else done.exception()
        if done.cancelled() or error is not None:
            if not awaited:  # an awaited save's caller gets the error itself
                log.error("a save nobody waited for was refused by the store: %r", error)
            return
        recordings = done.result()
        for timer in self.append_timers:
            timer(time.perf_counter() - started)
        for listener in self.listeners:
            listener(recordings)
        for aggregate in aggregates:
            if isinstance(aggregate, Position) and not aggregate.is_open:
                self.positions.pop(aggregate.id, None)

    def config_for(self, venue: str, account: str) -> EngineConfig:
        """The policies of one account: its own when configured, else the engine's."""
        return self.account_configs.get((venue, account), self.config)

    def policies(self, position: Position) -> EngineConfig:
        return self.config_for(position.venue, position.account)

    def port(self, position: Position) -> ExchangePort:
        return self.ports[position.venue, position.account]

    def lock(self, position_id: UUID) -> asyncio.Lock:
        return self._locks.setdefault(position_id, asyncio.Lock())

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get(venue, {}).get(symbol)

    def tracked_on(self, venue: str, account: str) -> list[Position]:
        return [p for p in self.positions.values() if (p.venue, p.account) == (venue, account)]

    def tracked(self, venue: str, account: str, symbol: str) -> list[Position]:
        return [p for p in self.positions.values()
                if (p.venue, p.account, p.symbol) == (venue, account, symbol)]

    async def pause(self) -> None:
        await asyncio.sleep(self.config.retry_delay_s)
