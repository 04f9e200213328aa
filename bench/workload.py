"""Realistic warden events for the store benchmark, made through the aggregates' own commands.

Two streams, as the service produces them: mark prices observed on a guarded `Position`
(``MarkPriceObserved``: a Decimal, an enum and the venue's small ticker dict) and exchange position
reports recorded on the `ExchangeAccount` (``PositionReported``: a `PositionReport` with Decimals,
enums, a datetime and the venue's raw dict). Everything is deterministic: times step from ``T0``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from time import perf_counter
from uuid import UUID

from warden.adapters.store import WardenStore
from warden.domain.account import ExchangeAccount
from warden.domain.instrument import Instrument
from warden.domain.position import Position
from warden.domain.reports import PositionReport
from warden.domain.values import PriceSource, ReportSource, Side

T0 = datetime(2025, 1, 1, tzinfo=UTC)
VENUE = "bybit"
INSTRUMENT = Instrument("BTCUSDT", tick_size=Decimal("0.1"), qty_step=Decimal("0.001"),
                        min_qty=Decimal("0.001"), min_price=Decimal("0.1"))
ENTRY = Decimal("64000.5")
SIZE = Decimal("0.010")

_tags = count()


def _tag(prefix: str) -> str:
    return f"{prefix}-{next(_tags)}"


def _at(step: int) -> datetime:
    return T0 + timedelta(milliseconds=250 * step)


def _price(step: int) -> Decimal:
    return ENTRY + Decimal(step % 997) / 10


def new_position() -> Position:
    """A filled long, two events pending; every call gives a new id."""
    signal = _tag("sig")
    position = Position.open(venue=VENUE, account="bench", signal_id=signal, symbol="BTCUSDT",
                             side=Side.LONG, quantity=SIZE, instrument=INSTRUMENT, at=T0,
                             stop_loss_percent=Decimal("2"), raw={"id": signal, "action": "open"})
    position.fill(price=ENTRY, quantity=SIZE, source=PriceSource.ORDER_RESPONSE, at=T0,
                  order_id="1a2b3c", fee=Decimal("0.352"), raw={"orderId": "1a2b3c", "avgPrice": "64000.5"})
    return position


def new_account() -> ExchangeAccount:
    """A registered exchange account, one event pending; every call gives a new id."""
    return ExchangeAccount.register(venue=VENUE, account=_tag("acct"), at=T0)


def observe_marks(position: Position, n: int) -> None:
    """Trigger ``n`` MarkPriceObserved events on ``position`` (left pending)."""
    for _ in range(n):
        step = position.version
        price = _price(step)
        position.observe_mark(price=price, source=PriceSource.WEBSOCKET, at=_at(step),
                              raw={"topic": "tickers.BTCUSDT", "ts": 1735689600000 + 250 * step,
                                   "markPrice": str(price)})


def record_reports(account: ExchangeAccount, n: int) -> None:
    """Trigger ``n`` PositionReported events on ``account`` (left pending)."""
    for _ in range(n):
        step = account.version
        mark = _price(step)
        report = PositionReport(
            venue=VENUE, account=account.account, symbol="BTCUSDT", side=Side.LONG, size=SIZE,
            entry_price=ENTRY, mark_price=mark, source=ReportSource.WEBSOCKET,
            exchange_time=_at(step), stop_loss=Decimal("62720.5"), liquidation_price=None,
            raw={"symbol": "BTCUSDT", "side": "Buy", "size": "0.010", "entryPrice": "64000.5",
                 "markPrice": str(mark), "positionIdx": 0, "updatedTime": str(1735689600000 + step)})
        account.record(report, at=_at(step))


def append_run(store: WardenStore, per_save: int, saves: int) -> float:
    """Seconds spent in ``store.save`` for ``saves`` saves of ``per_save`` new events each.

    Half the events are marks on one position, half reports on one account, as in a live session.
    The commands run outside the stopwatch; snapshots the save takes (every 50 position events,
    every 100 account events) run inside it, because the service pays for them there.
    """
    position, account = new_position(), new_account()
    store.save(position, account)
    elapsed = 0.0
    for i in range(saves):
        if per_save == 1:  # alternate the two streams, one event per save
            (observe_marks(position, 1) if i % 2 == 0 else record_reports(account, 1))
        else:
            observe_marks(position, per_save // 2)
            record_reports(account, per_save - per_save // 2)
        elapsed += _timed_save(store, position, account)
    return elapsed


def _timed_save(store: WardenStore, *aggregates: Position | ExchangeAccount) -> float:
    start = perf_counter()
    store.save(*aggregates)
    return perf_counter() - start


def group_commit_run(store: WardenStore, positions: int, rounds: int) -> float:
    """Seconds until ``rounds`` rounds of one mark on each of ``positions`` positions are durable,
    each round saved the way the engine saves: one `store.record` per position, all awaited
    together, so the writer commits what is pending together (adapters/writer.py)."""
    async def run() -> float:
        group = [new_position() for _ in range(positions)]
        await asyncio.gather(*(store.record(p) for p in group))
        elapsed = 0.0
        for _ in range(rounds):
            for p in group:
                observe_marks(p, 1)
            start = perf_counter()
            await asyncio.gather(*(store.record(p) for p in group))
            elapsed += perf_counter() - start
        return elapsed

    return asyncio.run(run())


def build_history(store: WardenStore, events: int, chunk: int = 1000) -> UUID:
    """Store a position with exactly ``events`` events, saved ``chunk`` at a time; return its id."""
    position = new_position()
    store.save(position)
    while position.version < events:
        observe_marks(position, min(chunk, events - position.version))
        store.save(position)
    return position.id


def load(store: WardenStore, position_id: UUID) -> Callable[[], Position]:
    """A zero-argument loader, for the stopwatch."""
    return lambda: store.repository.get(position_id)
