"""The venue-neutral matching engine: validation, fills, one-way positions and stop triggers.

Market orders fill at once at the feed price (plus configurable slippage) and charge a taker
fee. Trigger orders (Bybit conditional orders, Binance algo orders, Bybit position stop losses)
wait until the mark price crosses them, then close what they may. Every state change is reported
to listeners as a `SimEvent`, which the websocket surfaces turn into pushes.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from . import rules
from .book import (
    Account,
    Fill,
    Order,
    OrderKind,
    OrderStatus,
    Position,
    Reason,
    Rejected,
    Side,
    Trigger,
)
from .market import Clock, Instrument, PriceFeed

_PRECISION = Decimal("1e-10")


class EventKind(enum.Enum):
    ORDER = "order"
    FILL = "fill"
    POSITION = "position"
    BALANCE = "balance"
    PRICE = "price"


@dataclass(frozen=True)
class SimEvent:
    kind: EventKind
    account: str | None
    payload: object
    venue: str | None = None


class Engine:
    def __init__(self, feed: PriceFeed, clock: Clock, fee_rates: dict[str, Decimal] | None = None,
                 slippage_bps: Decimal = Decimal(0)) -> None:
        self.feed = feed
        self.clock = clock
        self.fee_rates = fee_rates or {"bybit": Decimal("0.00055"), "binance": Decimal("0.0005")}
        self.slippage_bps = Decimal(slippage_bps)
        self.accounts: dict[str, Account] = {}
        self.listeners: list[Callable[[SimEvent], None]] = []
        self._order_ids = itertools.count(1001)
        self._fill_ids = itertools.count(1)
        feed.listeners.append(self.on_price)

    # -- accounts and lookups ------------------------------------------------------------------
    def add_account(self, account: Account) -> Account:
        self.accounts[account.id] = account
        return account

    def account_by_key(self, venue: str, api_key: str) -> Account | None:
        return next((a for a in self.accounts.values()
                     if a.venue == venue and a.api_key == api_key), None)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.feed.instruments[symbol]
        except KeyError:
            raise Rejected(Reason.UNKNOWN_SYMBOL, symbol) from None

    def order(self, account: Account, order_id: int) -> Order:
        try:
            return account.orders[order_id]
        except KeyError:
            raise Rejected(Reason.ORDER_NOT_FOUND, str(order_id)) from None

    def _emit(self, kind: EventKind, account: Account | None, payload: object) -> None:
        event = SimEvent(kind, account.id if account else None, payload,
                         account.venue if account else None)
        for listener in list(self.listeners):
            listener(event)

    def _new_order(self, account: Account, symbol: str, side: Side, qty: Decimal,
                   kind: OrderKind, status: OrderStatus, **extra: object) -> Order:
        now = self.clock.now_ms()
        order = Order(next(self._order_ids), account.id, symbol, side, qty, kind, status, now, now,
                      **extra)
        account.orders[order.id] = order
        return order

    # -- commands ------------------------------------------------------------------------------
    def place_market(self, account: Account, symbol: str, side: Side, qty: Decimal,
                     reduce_only: bool = False, client_id: str = "") -> Order:
        inst = self.instrument(symbol)
        rules.check_client_id(account, client_id)
        rules.check_qty(inst, qty)
        pos = account.position(symbol)
        if reduce_only:
            if pos.qty == 0 or pos.side is side:
                raise Rejected(Reason.REDUCE_ONLY_REJECTED, symbol)
            qty = min(qty, pos.size)
        else:
            price = self.feed.price(symbol)
            if qty * price < inst.min_notional:
                raise Rejected(Reason.NOTIONAL_BELOW_MIN, str(qty * price), limit=inst.min_notional)
            if pos.side is not side.opposite:
                rules.check_margin(account, inst, qty, self.feed.price(symbol))
        order = self._new_order(account, symbol, side, qty, OrderKind.PLAIN, OrderStatus.NEW,
                                reduce_only=reduce_only, client_id=client_id)
        self._emit(EventKind.ORDER, account, order)
        self._execute(account, order, qty)
        return order

    def place_trigger(self, account: Account, symbol: str, side: Side, qty: Decimal | None,
                      trigger_price: Decimal, trigger: Trigger, *, reduce_only: bool = True,
                      close_position: bool = False, client_id: str = "",
                      order_type: str = "market") -> Order:
        inst = self.instrument(symbol)
        rules.check_client_id(account, client_id)
        rules.check_price(inst, trigger_price)
        if qty is not None:
            rules.check_qty(inst, qty)
        if trigger.crossed(self.feed.price(symbol), trigger_price):
            raise Rejected(Reason.WOULD_TRIGGER_IMMEDIATELY, str(trigger_price),
                           current=self.feed.price(symbol), trigger=trigger)
        order = self._new_order(account, symbol, side, qty or Decimal(0), OrderKind.CONDITIONAL,
                                OrderStatus.UNTRIGGERED, reduce_only=reduce_only,
                                close_position=close_position, client_id=client_id,
                                trigger_price=trigger_price, trigger=trigger,
                                order_type=order_type)
        self._emit(EventKind.ORDER, account, order)
        return order

    def cancel(self, account: Account, order_id: int) -> Order:
        order = self.order(account, order_id)
        if not order.status.is_open:
            raise Rejected(Reason.ORDER_NOT_FOUND, str(order_id))
        self._close_order(account, order, OrderStatus.CANCELLED)
        return order

    def set_leverage(self, account: Account, symbol: str, leverage: int,
                     reject_unchanged: bool = False) -> Position:
        inst = self.instrument(symbol)
        if not 1 <= leverage <= inst.max_leverage:
            raise Rejected(Reason.LEVERAGE_INVALID, str(leverage), limit=inst.max_leverage)
        pos = account.position(symbol)
        if reject_unchanged and pos.leverage == leverage:
            raise Rejected(Reason.LEVERAGE_NOT_MODIFIED, str(leverage))
        pos.leverage = account.leverage[symbol] = leverage
        return pos

    def set_position_stop(self, account: Account, symbol: str, stop_loss: Decimal | None,
                          trailing: Decimal | None = None,
                          active_price: Decimal | None = None) -> Position:
        """Attach (or with 0 remove) the position's stop loss, like Bybit trading-stop."""
        inst = self.instrument(symbol)
        pos = account.position(symbol)
        if pos.qty == 0:
            raise Rejected(Reason.NO_POSITION, symbol)
        if trailing is not None:
            pos.trailing_distance = trailing or None
            pos.trailing_active_price = active_price or None
            if stop_loss is None and pos.trailing_distance and pos.stop_loss is None:
                self._move_trailing(account, pos, self.feed.price(symbol))
        if stop_loss is not None:
            if stop_loss == 0:
                pos.stop_loss = None
            else:
                rules.check_price(inst, stop_loss)
                if stop_loss == pos.stop_loss:
                    raise Rejected(Reason.NOT_MODIFIED, str(stop_loss))
                mark = self.feed.price(symbol)
                if (stop_loss >= mark) if pos.qty > 0 else (stop_loss <= mark):
                    raise Rejected(Reason.STOP_WRONG_SIDE, str(stop_loss), current=mark,
                                   side=pos.side)
                pos.stop_loss = stop_loss
            self._sync_position_stop(account, pos)
        pos.updated_ms = self.clock.now_ms()
        self._emit(EventKind.POSITION, account, pos)
        return pos

    def _sync_position_stop(self, account: Account, pos: Position) -> None:
        order = next((o for o in account.orders.values() if o.kind is OrderKind.POSITION_SL
                      and o.symbol == pos.symbol and o.status.is_open), None)
        if pos.stop_loss is None or pos.qty == 0:
            if order is not None:
                self._close_order(account, order, OrderStatus.DEACTIVATED)
            return
        side = Side.BUY if pos.qty > 0 else Side.SELL
        if order is None:
            order = self._new_order(account, pos.symbol, side.opposite, pos.size,
                                    OrderKind.POSITION_SL, OrderStatus.UNTRIGGERED,
                                    reduce_only=True, close_position=True)
        order.trigger_price = pos.stop_loss
        order.trigger = Trigger.FALL if side is Side.BUY else Trigger.RISE
        order.qty = pos.size
        order.updated_ms = self.clock.now_ms()
        self._emit(EventKind.ORDER, account, order)

    # -- execution -----------------------------------------------------------------------------
    def _fill_price(self, inst: Instrument, side: Side) -> Decimal:
        price = self.feed.price(inst.symbol)
        if not self.slippage_bps:
            return price
        slipped = price * (1 + side.sign * self.slippage_bps / Decimal(10000))
        return inst.round_price(slipped, up=side is Side.BUY)

    def _execute(self, account: Account, order: Order, qty: Decimal) -> None:
        inst = self.instrument(order.symbol)
        price = self._fill_price(inst, order.side)
        pos = account.position(order.symbol)
        rate = self.fee_rates.get(account.venue, Decimal("0.0005"))
        now = self.clock.now_ms()
        signed = order.side.sign * qty
        closed = min(qty, pos.size) if pos.qty and (pos.qty > 0) != (signed > 0) else Decimal(0)
        realized = (price - pos.entry_price) * closed * (1 if pos.qty > 0 else -1)
        new_qty = pos.qty + signed
        if new_qty == 0:
            pos.entry_price = Decimal(0)
        elif closed == 0:
            pos.entry_price = ((pos.entry_price * pos.size + price * qty) / abs(new_qty)).quantize(
                _PRECISION).normalize()
        elif closed < qty:
            pos.entry_price = price     # flipped through zero
        if pos.qty == 0:
            pos.created_ms = now
        pos.qty, pos.updated_ms = new_qty, now
        fee = (price * qty * rate).quantize(_PRECISION).normalize()
        pos.realized_pnl += realized - fee
        account.wallet += realized - fee
        fill = Fill(next(self._fill_ids), order.id, account.id, order.symbol, order.side, price,
                    qty, fee, rate, realized, closed, now)
        account.fills.append(fill)
        order.filled_qty += qty
        order.cum_quote += price * qty
        order.fee += fee
        order.realized_pnl += realized
        order.avg_price = (order.cum_quote / order.filled_qty).quantize(_PRECISION).normalize()
        order.status, order.updated_ms = OrderStatus.FILLED, now
        if new_qty == 0:
            pos.stop_loss = pos.trailing_distance = pos.trailing_active_price = None
        self._sync_position_stop(account, pos)
        self._emit(EventKind.FILL, account, fill)
        self._emit(EventKind.ORDER, account, order)
        self._emit(EventKind.POSITION, account, pos)
        self._emit(EventKind.BALANCE, account, account)

    def _close_order(self, account: Account, order: Order, status: OrderStatus) -> None:
        order.status, order.updated_ms = status, self.clock.now_ms()
        self._emit(EventKind.ORDER, account, order)

    # -- price moves ---------------------------------------------------------------------------
    def on_price(self, symbol: str, price: Decimal) -> None:
        self._emit(EventKind.PRICE, None, (symbol, price))
        for account in list(self.accounts.values()):
            pos = account.positions.get(symbol)
            if pos is not None and pos.trailing_distance and pos.qty:
                self._move_trailing(account, pos, price)
            due = [o for o in account.orders.values()
                   if o.symbol == symbol and o.is_trigger and o.status is OrderStatus.UNTRIGGERED
                   and o.trigger is not None and o.trigger_price is not None
                   and o.trigger.crossed(price, o.trigger_price)]
            for order in sorted(due, key=lambda o: o.id):
                self._fire(account, order)

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
        pos = account.position(order.symbol)
        qty = pos.size if order.close_position else order.qty
        if order.reduce_only or order.close_position:
            if pos.qty == 0 or pos.side is order.side:
                self._close_order(account, order, OrderStatus.DEACTIVATED)
                return
            qty = min(qty, pos.size)
        order.qty = order.qty or qty
        order.status = OrderStatus.NEW
        self._execute(account, order, qty)

    # -- outside world (control API) -----------------------------------------------------------
    def open_external(self, account: Account, symbol: str, side: Side, qty: Decimal) -> Order:
        """A position opened outside the bot (e.g. by hand in the web UI): a phantom."""
        return self.place_market(account, symbol, side, qty,
                                 client_id=f"external-{len(account.orders) + 1}")

    def close_external(self, account: Account, symbol: str) -> Order | None:
        pos = account.position(symbol)
        if pos.side is None:
            return None
        return self.place_market(account, symbol, pos.side.opposite, pos.size, reduce_only=True,
                                 client_id=f"external-{len(account.orders) + 1}")

    def unrealized(self, account: Account) -> Decimal:
        return sum((p.unrealized(self.feed.price(s)) for s, p in account.positions.items()),
                   Decimal(0))
