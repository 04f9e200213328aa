"""Dropping duplicated and out-of-order pushes before they reach the engine.

Venues (and reconnects) deliver the same push twice and occasionally an older state after a newer
one. `Sequencer.admit` keeps, per key, the newest exchange time seen and refuses:

* a fill whose trade id was already admitted;
* an order update older than the last one, or with less filled quantity (fills only grow), or
  identical to one already admitted;
* a position update older than the last one, or identical to the last one;
* a REST position read that only confirms the last pushed state.

A REST snapshot taken after a reconnect is admitted when it is not older than what the stream
already said, so a stale snapshot cannot undo a newer push.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import datetime

from warden.domain.reports import FillReport, OrderReport, PositionReport
from warden.domain.values import OrderStatus, ReportSource

_TERMINAL = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


class _Bounded(OrderedDict[str, object]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class Sequencer:
    def __init__(self, memory: int = 10_000) -> None:
        self._fills = _Bounded(memory)
        self._orders = _Bounded(memory)
        self._positions: dict[str, PositionReport] = {}

    def admit(self, report: PositionReport | OrderReport | FillReport) -> bool:
        if isinstance(report, FillReport):
            return self._admit_fill(report)
        if isinstance(report, OrderReport):
            return self._admit_order(report)
        return self._admit_position(report)

    def _admit_fill(self, fill: FillReport) -> bool:
        if fill.trade_id in self._fills:
            return False
        self._fills.put(fill.trade_id, True)
        return True

    def _admit_order(self, order: OrderReport) -> bool:
        last = self._orders.get(order.order_id)
        if isinstance(last, OrderReport):
            if order == last or _older(order.time, last.time) or order.filled_qty < last.filled_qty:
                return False
            if last.status in _TERMINAL and order.status not in _TERMINAL:
                return False  # a late "New" after "Filled" with the same timestamp
        self._orders.put(order.order_id, order)
        return True

    def _admit_position(self, position: PositionReport) -> bool:
        last = self._positions.get(position.symbol)
        if last is not None:
            if _older(position.exchange_time, last.exchange_time):
                return False
            if position == _with_source(last, position):
                return False
            # A REST read that agrees with the last push is a confirmation, not news (it differs
            # only in fields a push may lack, like Binance's mark price).
            if position.source is ReportSource.REST and _state(position) == _state(last):
                return False
        self._positions[position.symbol] = position
        return True

    def forget(self, symbol: str) -> None:
        self._positions.pop(symbol, None)

    def positions(self) -> dict[str, PositionReport]:
        """The newest admitted state of every symbol seen (flat ones included)."""
        return dict(self._positions)


def _state(p: PositionReport) -> tuple[object, ...]:
    return (p.side, p.size, p.entry_price, p.stop_loss)


def _older(new: datetime | None, last: datetime | None) -> bool:
    return new is not None and last is not None and new < last


def _with_source(last: PositionReport, new: PositionReport) -> PositionReport:
    """``last`` as if it came from ``new``'s channel: a REST repeat of a push is no news."""
    if last.source is new.source:
        return last
    return replace(last, source=new.source)
