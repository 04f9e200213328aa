"""The engine's ports: `ExchangePort`, the asynchronous exchange interface it talks to, and
`EventStore`, the log it records to. Adapters implement them (`adapters/exchange/`,
`adapters/store.py`); the engine imports no adapter.

Exchange commands go in, normalized reports (`domain.reports`) come out; failures are raised as
the classes of `engine/errors.py` (`Rejected`, `AlreadyInPlace`, `Retryable`, `UnknownOutcome`),
onto which the ccxt adapter maps its library's exceptions. Symbols are the
venue's own ids (``"BTCUSDT"``), the same on Bybit and Binance USD-M linear perpetuals.

Deadlines are absolute ``time.monotonic()`` values, so a caller can share one budget between calls.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Collection, Iterator, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol, TypeVar
from uuid import UUID

from warden.domain.instrument import Instrument
from warden.domain.reports import (
    ClosingOrder,
    ExecutionPrice,
    FillReport,
    FillUnknown,
    OrderReport,
    PositionModeReport,
    PositionReport,
    StopReport,
)
from warden.domain.values import Side

T = TypeVar("T")


class EventStore(Protocol):
    """The event log as the engine uses it.

    `record` takes the aggregates' pending events at once, in call order, and hands them to a
    writer that commits what is pending together, off the event loop; the future resolves (with
    the recordings) once they are durable. A step that must be on disk before an exchange call
    awaits it. While the store cannot be written, `available` is False (`unavailable_reason`
    says why) and the writer retries in order until it can: the future waits, nothing is lost,
    the log never skips a version. A save the store refuses (a version conflict: a repeated
    signal's claim) raises its error; the aggregates it had already stored are put back to their
    stored state.

    ``load`` raises eventsourcing's ``AggregateNotFoundError`` for an id with no events, and only
    for that: any other failure of the store propagates, so a database error is never taken for
    "not recorded yet". ``load``, ``has_events`` and ``ids_created_by`` block; the running engine
    calls them only through ``read``, which runs one off the event loop and raises
    `StoreUnavailable` at once while the store is known to be unavailable, or once it has not
    answered within a bounded wait: a database that is down or hangs never holds up the loop.

    ``withdraw`` drops a save whose caller stopped waiting for it (a signal answered 503), if it
    can still be dropped: the future then raises; if it was committed after all, it resolves.
    """

    @property
    def available(self) -> bool: ...

    @property
    def unavailable_reason(self) -> str | None: ...

    def record(self, *aggregates: Any) -> asyncio.Future[list[Any]]: ...

    def withdraw(self, saved: asyncio.Future[list[Any]]) -> None: ...

    async def read(self, fn: Callable[..., T], *args: Any, wait_s: float | None = ...) -> T:
        """``fn(*args)``, one of the reads below, off the loop within ``wait_s`` (None: no bound)."""

    def load(self, aggregate_id: UUID) -> Any:
        """The aggregate rebuilt from its snapshot and events."""

    def has_events(self, aggregate_id: UUID) -> bool:
        """Whether anything was ever recorded under this id."""

    def ids_created_by(self, topics: Collection[str]) -> Iterator[UUID]:
        """The ids of aggregates whose first event has one of these topics, in log order."""


class StopMode(Enum):
    """How a stop-loss is held on the venue."""

    POSITION = "position"  # Bybit /v5/position/trading-stop, tpslMode Full: one stop per position
    CONDITIONAL = "conditional"  # a reduce-only conditional market order (Binance: algo STOP_MARKET)


class ExchangePort(abc.ABC):
    """One account on one venue."""

    venue: str
    account: str
    stop_mode: StopMode = StopMode.CONDITIONAL  # how this account's stops are held

    @abc.abstractmethod
    async def load_instruments(self) -> dict[str, Instrument]:
        """Tick size, quantity step and minimums of every linear perpetual, by symbol."""

    @abc.abstractmethod
    async def open_market(self, symbol: str, side: Side, qty: Decimal,
                          client_order_id: str) -> OrderReport:
        """Open (or add to) ``side`` at market. Idempotent by ``client_order_id``: when the venue
        says the id is a duplicate, the existing order is returned. The report's average price may
        be None (Bybit never says); use `resolve_execution_price`."""

    @abc.abstractmethod
    async def resolve_execution_price(self, symbol: str, order_id: str, client_order_id: str | None,
                                      expected_qty: Decimal,
                                      deadline: float) -> ExecutionPrice | FillUnknown:
        """The real fill price of an entry: order response -> order query -> fills VWAP -> position
        average price. Never a price <= 0; `FillUnknown` when nothing answered before ``deadline``."""

    @abc.abstractmethod
    async def place_stop(self, symbol: str, side: Side, qty: Decimal, stop_price: Decimal,
                         mode: StopMode | None = None,
                         client_order_id: str | None = None) -> StopReport:
        """Protect ``qty`` of the ``side`` position with a reduce-only stop at ``stop_price``
        (already rounded protectively); a stop order carries ``client_order_id``."""

    @abc.abstractmethod
    async def move_stop(self, stop: StopReport, qty: Decimal, new_price: Decimal,
                        client_order_id: str | None = None) -> StopReport:
        """Move ``stop`` without ever leaving the position bare: the new stop is on the venue
        before the old one is removed (a position stop moves in place). `Rejected`: nothing
        changed, the old stop stands. `UnknownOutcome`/`Retryable`: ask `fetch_stops`. Re-sending
        the price it already has is a success, not an error."""

    @abc.abstractmethod
    async def cancel_stop(self, stop: StopReport) -> None:
        """Remove ``stop``; a stop that is already gone counts as removed."""

    @abc.abstractmethod
    async def place_exit_limit(self, symbol: str, side: Side, qty: Decimal, price: Decimal,
                               client_order_id: str) -> OrderReport:
        """Rest a reduce-only GTC limit order closing ``qty`` of the ``side`` position at ``price``
        or better. Idempotent by ``client_order_id``: when the venue says the id is a duplicate,
        the order it holds is returned."""

    @abc.abstractmethod
    async def amend_order(self, order: OrderReport, price: Decimal) -> OrderReport:
        """Move a resting limit order to ``price``, keeping its id (Bybit ``/v5/order/amend``,
        Binance ``PUT /fapi/v1/order``). `Rejected` with the venue's not-found code when the venue
        holds the order no more (filled or cancelled)."""

    @abc.abstractmethod
    async def fetch_open_orders(self, symbol: str) -> list[OrderReport]:
        """Every open order of ``symbol``: regular (resting) and conditional (trigger) ones."""

    @abc.abstractmethod
    async def cancel_order(self, order: OrderReport) -> None:
        """Cancel an open order; one that is already gone counts as cancelled."""

    @abc.abstractmethod
    async def describe_closing_orders(self, symbol: str,
                                      fills: list[FillReport]) -> list[ClosingOrder]:
        """What the orders behind these exiting fills were, as the venue says (stop, liquidation,
        regular order...), ordered by their last fill; UNKNOWN where the venue cannot be asked."""

    @abc.abstractmethod
    async def close_market(self, symbol: str, side: Side, qty: Decimal,
                           client_order_id: str) -> OrderReport:
        """Close ``qty`` of the ``side`` position at market, reduce-only, idempotent by client id."""

    @abc.abstractmethod
    async def fetch_position_mode(self, symbols: Sequence[str]) -> PositionModeReport:
        """The account's position mode. Binance keeps one for the account; Bybit one per symbol,
        read from every position the account holds and from ``symbols``."""

    @abc.abstractmethod
    async def fetch_positions(self) -> list[PositionReport]:
        """Every open position of the account (REST)."""

    @abc.abstractmethod
    async def fetch_stops(self, symbol: str | None = None) -> list[StopReport]:
        """Every stop-loss the venue holds for ``symbol``, or for every symbol of the account
        (None: one listing, a few requests): a Bybit position stop and any open conditional
        (algo) stop orders. Used to resolve a stop intent after a crash, and to verify stops."""

    @abc.abstractmethod
    async def fetch_fills(self, symbol: str, order_id: str | None = None) -> list[FillReport]:
        """Recent executions of ``symbol`` (of one order when ``order_id`` is given)."""

    @abc.abstractmethod
    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderReport | None:
        """The order with this client id, or None when the venue does not know it."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""
