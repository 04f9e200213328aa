"""The venue-neutral matching engine: admission and the order commands.

Market orders take from the synthetic top of book (`depth.TopOfBook`) and charge the taker fee.
Limit orders either take what they can at once (within their price) or rest until the mark price
crosses them and then fill at their own price with the maker fee; post-only orders never take.
Trigger orders (Bybit conditional orders, Binance algo orders, Bybit position stop losses) wait
until the mark crosses them, then close what they may. Fills, price reactions and position
commands live in the mixins `execution`, `matching` and `positions`. Every state change is
reported to listeners as a `SimEvent`, which the websocket surfaces turn into pushes.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from . import rules
from .book import (
    Account,
    Closure,
    Fill,
    Order,
    OrderKind,
    OrderStatus,
    OrderType,
    Reason,
    Rejected,
    Side,
    TimeInForce,
    Trigger,
)
from .depth import TopOfBook
from .events import Action, Commands, EventKind, SimEvent, command
from .execution import Execution
from .market import Clock, Instrument, PriceFeed
from .matching import Matching
from .positions import PositionDesk

__all__ = ["Engine", "EventKind", "SimEvent"]

TAKER = {"bybit": Decimal("0.00055"), "binance": Decimal("0.0005")}
MAKER = {"bybit": Decimal("0.0002"), "binance": Decimal("0.0002")}
TAPE = 100_000     # fills kept per symbol, all accounts, for klines and 24h statistics


class Engine(PositionDesk, Execution, Matching):
    def __init__(self, feed: PriceFeed, clock: Clock, fee_rates: dict[str, Decimal] | None = None,
                 slippage_bps: Decimal = Decimal(0), *,
                 maker_fee_rates: dict[str, Decimal] | None = None,
                 book: TopOfBook | None = None, partial_fills: int = 1,
                 liquidation: bool = False) -> None:
        self.feed = feed
        self.clock = clock
        self.fee_rates = fee_rates or dict(TAKER)
        self.maker_fee_rates = maker_fee_rates or dict(MAKER)
        self.slippage_bps = Decimal(slippage_bps)
        self.book = book or TopOfBook()
        self.partial_fills = max(1, int(partial_fills))   # executions an order fills in
        self.liquidation = liquidation
        self.accounts: dict[str, Account] = {}
        self.tape: dict[str, deque[Fill]] = {s: deque(maxlen=TAPE) for s in feed.instruments}
        self.listeners: list[Callable[[SimEvent], None]] = []
        self.commands = Commands()
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

    def quotes(self, symbol: str) -> tuple[Decimal, Decimal]:
        return self.book.quotes(self.instrument(symbol), self.feed.price(symbol))

    def _emit(self, kind: EventKind, account: Account | None, payload: object,
              action: Action | None = None) -> None:
        event = SimEvent(kind, account.id if account else None, payload,
                         account.venue if account else None, action)
        for listener in list(self.listeners):
            listener(event)

    def _new_order(self, account: Account, symbol: str, side: Side, qty: Decimal,
                   kind: OrderKind, status: OrderStatus, **extra: object) -> Order:
        now = self.clock.now_ms()
        order = Order(next(self._order_ids), account.id, symbol, side, qty, kind, status, now, now,
                      **extra)  # type: ignore[arg-type]
        account.orders[order.id] = order
        if status.is_open:
            account.live[order.id] = order
        return order

    def _set_status(self, account: Account, order: Order, status: OrderStatus) -> None:
        order.status, order.updated_ms = status, self.clock.now_ms()
        if status.is_open:
            account.live[order.id] = order
        else:
            account.live.pop(order.id, None)

    @staticmethod
    def _reduces(side: Side, idx: int) -> bool:
        """In hedge mode an order against its side's direction closes that side."""
        return (idx == 1 and side is Side.SELL) or (idx == 2 and side is Side.BUY)

    def _admit_reduce(self, account: Account, symbol: str, side: Side, qty: Decimal,
                      idx: int) -> Decimal:
        pos = account.position(symbol, idx)
        if pos.qty == 0 or pos.side is side:
            raise Rejected(Reason.REDUCE_ONLY_REJECTED, symbol)
        return min(qty, pos.size)

    # -- order commands ------------------------------------------------------------------------
    @command
    def place_market(self, account: Account, symbol: str, side: Side, qty: Decimal,
                     reduce_only: bool = False, client_id: str = "",
                     position_idx: int = 0) -> Order:
        inst = self.instrument(symbol)
        rules.check_client_id(account, client_id)
        rules.check_qty(inst, qty)
        rules.check_position_idx(account, symbol, position_idx)
        reduce_only = reduce_only or self._reduces(side, position_idx)
        if reduce_only:
            qty = self._admit_reduce(account, symbol, side, qty, position_idx)
        else:
            price = self.feed.price(symbol)
            rules.check_notional(inst, qty, price)
            if account.position(symbol, position_idx).side is not side.opposite:
                rules.check_margin(account, inst, qty, price, position_idx)
        order = self._new_order(account, symbol, side, qty, OrderKind.PLAIN, OrderStatus.NEW,
                                reduce_only=reduce_only, client_id=client_id,
                                position_idx=position_idx, time_in_force=TimeInForce.IOC)
        self._emit(EventKind.ORDER, account, order, Action.CREATED)
        self._take(account, order, qty)
        return order

    @command
    def place_limit(self, account: Account, symbol: str, side: Side, qty: Decimal,
                    price: Decimal, tif: TimeInForce = TimeInForce.GTC, *,
                    reduce_only: bool = False, client_id: str = "", position_idx: int = 0,
                    refuse_unfillable: bool = False,
                    price_band: tuple[Decimal, Decimal] | None = None) -> Order:
        """A limit order. `refuse_unfillable` (Binance) answers a post-only that would take or an
        unfillable FOK with an error; otherwise (Bybit) the order is created and cancelled."""
        inst = self.instrument(symbol)
        mark = self.feed.price(symbol)
        rules.check_client_id(account, client_id)
        rules.check_price(inst, price)
        rules.check_qty(inst, qty)
        rules.check_position_idx(account, symbol, position_idx)
        if price_band is not None:
            rules.check_price_band(inst, side, price, mark, price_band)
        reduce_only = reduce_only or self._reduces(side, position_idx)
        if reduce_only:
            self._admit_reduce(account, symbol, side, qty, position_idx)
        else:
            rules.check_notional(inst, qty, price)
            rules.check_margin(account, inst, qty, price, position_idx)
        closure = self._unfillable(inst, side, qty, price, tif)
        if closure is not None and refuse_unfillable:
            raise Rejected(Reason.POST_ONLY_WOULD_TAKE if closure is Closure.POST_ONLY
                           else Reason.FOK_UNFILLABLE, str(price))
        order = self._new_order(account, symbol, side, qty, OrderKind.PLAIN, OrderStatus.NEW,
                                order_type=OrderType.LIMIT, price=price, time_in_force=tif,
                                reduce_only=reduce_only, client_id=client_id,
                                position_idx=position_idx)
        if closure is not None:
            self._close_order(account, order, OrderStatus.CANCELLED, closure)
            return order
        self._emit(EventKind.ORDER, account, order, Action.CREATED)
        self._take_limit(account, order)
        return order

    def _unfillable(self, inst: Instrument, side: Side, qty: Decimal, price: Decimal,
                    tif: TimeInForce) -> Closure | None:
        """Post-only that would take, or FOK that cannot fill in full at once."""
        mark = self.feed.price(inst.symbol)
        taking = self.book.walk(inst, mark, side, qty, price)
        if tif is TimeInForce.POST_ONLY and taking:
            return Closure.POST_ONLY
        if tif is TimeInForce.FOK and sum((q for _, q in taking), Decimal(0)) < qty:
            return Closure.UNFILLED
        return None

    def _take_limit(self, account: Account, order: Order) -> None:
        """Take what the book offers within the limit; IOC/FOK end there, GTC rests the rest."""
        if order.time_in_force is not TimeInForce.POST_ONLY:
            self._take(account, order, order.qty - order.filled_qty, limit=order.price)
        if order.status.is_open and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._close_order(account, order, OrderStatus.CANCELLED, Closure.UNFILLED)

    @command
    def place_trigger(self, account: Account, symbol: str, side: Side, qty: Decimal | None,
                      trigger_price: Decimal, trigger: Trigger, *, reduce_only: bool = True,
                      close_position: bool = False, client_id: str = "",
                      order_type: OrderType = OrderType.STOP_MARKET,
                      position_idx: int = 0) -> Order:
        inst = self.instrument(symbol)
        rules.check_client_id(account, client_id)
        rules.check_price(inst, trigger_price)
        rules.check_position_idx(account, symbol, position_idx)
        if qty is not None:
            rules.check_qty(inst, qty)
        if trigger.crossed(self.feed.price(symbol), trigger_price):
            raise Rejected(Reason.WOULD_TRIGGER_IMMEDIATELY, str(trigger_price),
                           current=self.feed.price(symbol), trigger=trigger)
        reduce_only = reduce_only or self._reduces(side, position_idx)
        order = self._new_order(account, symbol, side, qty or Decimal(0), OrderKind.CONDITIONAL,
                                OrderStatus.UNTRIGGERED, reduce_only=reduce_only,
                                close_position=close_position, client_id=client_id,
                                trigger_price=trigger_price, trigger=trigger,
                                order_type=order_type, position_idx=position_idx)
        self._emit(EventKind.ORDER, account, order, Action.CREATED)
        return order

    @command
    def cancel(self, account: Account, order_id: int) -> Order:
        order = self.order(account, order_id)
        if not order.status.is_open:
            raise Rejected(Reason.ORDER_NOT_FOUND, str(order_id))
        if order.kind is OrderKind.POSITION_SL:     # the position's stop goes with its order
            pos = account.position(order.symbol, order.position_idx)
            pos.stop_loss = pos.trailing_distance = pos.trailing_active_price = None
            self._emit(EventKind.POSITION, account, pos)
        self._close_order(account, order, OrderStatus.CANCELLED, Closure.BY_USER)
        return order

    @command
    def cancel_all(self, account: Account, symbol: str | None,
                   kinds: frozenset[OrderKind]) -> list[Order]:
        """Cancel every open order of the symbol (None: all) whose kind is in `kinds`."""
        victims = sorted((o for o in account.live.values() if o.kind in kinds
                          and symbol in (None, o.symbol)), key=lambda o: o.id)
        return [self.cancel(account, o.id) for o in victims if o.status.is_open]

    @command
    def amend(self, account: Account, order_id: int, *, qty: Decimal | None = None,
              price: Decimal | None = None, trigger_price: Decimal | None = None) -> Order:
        """Change an open order in place (same id): quantity, limit price or trigger price."""
        order = self.order(account, order_id)
        if not order.status.is_open or order.kind is OrderKind.POSITION_SL:
            raise Rejected(Reason.ORDER_NOT_FOUND, str(order_id))
        inst = self.instrument(order.symbol)
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None or not order.is_limit else price
        new_trigger = order.trigger_price if trigger_price is None else trigger_price
        if (new_qty, new_price, new_trigger) == (order.qty, order.price, order.trigger_price):
            raise Rejected(Reason.ORDER_NOT_MODIFIED, str(order_id))
        rules.check_qty(inst, new_qty)
        if new_price is not None:
            rules.check_price(inst, new_price)
        if new_trigger is not None and order.trigger is not None:
            rules.check_price(inst, new_trigger)
            mark = self.feed.price(order.symbol)
            if order.trigger.crossed(mark, new_trigger):
                raise Rejected(Reason.WOULD_TRIGGER_IMMEDIATELY, str(new_trigger), current=mark,
                               trigger=order.trigger)
        order.qty, order.price, order.trigger_price = new_qty, new_price, new_trigger
        order.updated_ms = self.clock.now_ms()
        if order.is_limit and new_qty <= order.filled_qty:
            self._close_order(account, order, OrderStatus.CANCELLED, Closure.AMENDED_AWAY)
            return order
        if order.is_limit and new_price is not None and self._unfillable(
                inst, order.side, new_qty - order.filled_qty, new_price, order.time_in_force):
            self._close_order(account, order, OrderStatus.CANCELLED, Closure.POST_ONLY)
            return order
        self._emit(EventKind.ORDER, account, order, Action.AMENDED)
        if order.is_limit:
            self._take_limit(account, order)
        return order
