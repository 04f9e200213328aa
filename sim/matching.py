"""What a mark-price change sets off: trailing stops move, trigger orders fire, resting limit
orders the mark crossed fill (maker, at their price) and, when liquidation is on, positions whose
mark crossed the liquidation price are taken over. Part of `Engine` (a mixin).

Liquidation is computed per position as isolated margin: a position's margin is its notional at
entry over its leverage, so a long is liquidated at entry * (1 - 1/leverage + mmr) and closed at
its bankruptcy price entry * (1 - 1/leverage) (mirrored for a short), `mmr` being the instrument's
maintenance-margin rate.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from .book import Account, Order, OrderKind, OrderStatus, Position, Side, Trigger
from .events import EventKind, command
from .market import Instrument, PriceFeed

if TYPE_CHECKING:
    from .market import Clock


def liquidation_price(inst: Instrument, pos: Position) -> Decimal | None:
    if not pos.qty:
        return None
    sign = 1 if pos.qty > 0 else -1
    price = pos.entry_price * (1 - sign * (1 / Decimal(pos.leverage) - inst.maint_margin))
    return inst.round_price(price, up=pos.qty > 0) if price > 0 else None


def bankruptcy_price(inst: Instrument, pos: Position) -> Decimal:
    sign = 1 if pos.qty > 0 else -1
    price = pos.entry_price * (1 - sign / Decimal(pos.leverage))
    return max(inst.min_price, inst.round_price(price, up=pos.qty > 0))


class Matching:
    feed: PriceFeed
    clock: Clock
    accounts: dict[str, Account]
    liquidation: bool
    instrument: Callable[[str], Instrument]
    _emit: Callable[..., None]
    _take: Callable[..., Decimal]
    _fill_resting: Callable[[Account, Order], None]
    _close_order: Callable[..., None]
    _set_status: Callable[[Account, Order, OrderStatus], None]
    _sync_position_stop: Callable[[Account, Position], None]
    _liquidate: Callable[[Account, Position, Decimal], Order]

    @command
    def on_price(self, symbol: str, price: Decimal) -> None:
        self._emit(EventKind.PRICE, None, (symbol, price))
        for account in list(self.accounts.values()):
            for pos in [p for p in account.positions.values() if p.symbol == symbol]:
                if pos.trailing_distance and pos.qty:
                    self._move_trailing(account, pos, price)
            for order in self._due(account, symbol, price):
                if not order.status.is_open:
                    continue        # closed by an earlier execution in this same move
                if order.is_trigger:
                    self._fire(account, order)
                else:
                    self._fill_resting(account, order)
            if self.liquidation:
                self._liquidations(account, symbol, price)

    def _due(self, account: Account, symbol: str, price: Decimal) -> list[Order]:
        """Orders the mark reached, oldest first: triggers, then resting limit orders."""
        triggers, limits = [], []
        for o in account.live.values():
            if o.symbol != symbol:
                continue
            if o.is_trigger and o.status is OrderStatus.UNTRIGGERED and o.trigger is not None \
                    and o.trigger_price is not None and o.trigger.crossed(price, o.trigger_price):
                triggers.append(o)
            elif not o.is_trigger and o.is_limit and o.price is not None and (
                    price <= o.price if o.side is Side.BUY else price >= o.price):
                limits.append(o)
        return sorted(triggers, key=lambda o: o.id) + sorted(limits, key=lambda o: o.id)

    def _move_trailing(self, account: Account, pos: Position, price: Decimal) -> None:
        active = pos.trailing_active_price
        if active is not None and not (price >= active if pos.qty > 0 else price <= active):
            return
        inst = self.instrument(pos.symbol)
        distance = pos.trailing_distance or Decimal(0)
        candidate = inst.round_price(price - distance if pos.qty > 0 else price + distance)
        better = pos.stop_loss is None or (candidate > pos.stop_loss if pos.qty > 0
                                           else candidate < pos.stop_loss)
        if better:
            pos.stop_loss = candidate
            pos.trailing_active_price = None    # once active it stays active
            self._sync_position_stop(account, pos)
            self._emit(EventKind.POSITION, account, pos)

    def _fire(self, account: Account, order: Order) -> None:
        if order.status is not OrderStatus.UNTRIGGERED:
            return      # an earlier trigger in this batch closed the position and this stop
        order.triggered_ms = self.clock.now_ms()
        pos = account.position(order.symbol, order.position_idx)
        qty = pos.size if order.close_position else order.qty
        if order.reduce_only or order.close_position:
            if pos.qty == 0 or pos.side is order.side:
                self._close_order(account, order, OrderStatus.DEACTIVATED)
                return
            qty = min(qty, pos.size)
        order.qty = order.qty or qty
        self._set_status(account, order, OrderStatus.NEW)
        self._take(account, order, qty)

    def _liquidations(self, account: Account, symbol: str, price: Decimal) -> None:
        inst = self.instrument(symbol)
        for pos in [p for p in account.positions.values() if p.symbol == symbol and p.qty]:
            liq = liquidation_price(inst, pos)
            if liq is not None and (price <= liq if pos.qty > 0 else price >= liq):
                self._liquidate(account, pos, bankruptcy_price(inst, pos))


def protective(order: Order, pos: Position) -> bool:
    """Does this open order stop `pos` out on an adverse move (a stop, not a take-profit)?"""
    if not order.is_trigger or not order.status.is_open or pos.side is None:
        return False
    if order.symbol != pos.symbol or order.position_idx != pos.idx:
        return False
    if order.side is not pos.side.opposite or not (order.reduce_only or order.close_position):
        return False
    if order.kind is OrderKind.POSITION_SL:
        return True
    return order.trigger is (Trigger.FALL if pos.side is Side.BUY else Trigger.RISE)
