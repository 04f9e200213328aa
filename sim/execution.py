"""Fills: how an order executes against the synthetic book and what each execution does to the
position, the wallet and the order. Part of `Engine` (a mixin; the state lives there).

One execution is one `Fill`: taker executions walk the book (and are cut into
`Engine.partial_fills` pieces when configured), maker executions fill a resting limit order at its
own price. A position that goes flat loses its stop and the reduce-only orders resting for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from .book import (
    Account,
    Closure,
    Fill,
    Order,
    OrderKind,
    OrderStatus,
    OrderType,
    Origin,
    Position,
    Side,
    TimeInForce,
)
from .depth import TopOfBook, chunk_size, chunked
from .events import Action, EventKind
from .market import Instrument, PriceFeed

if TYPE_CHECKING:
    from .market import Clock

_PRECISION = Decimal("1e-10")


def _q(value: Decimal) -> Decimal:
    return value.quantize(_PRECISION).normalize()


class Execution:
    feed: PriceFeed
    clock: Clock
    book: TopOfBook
    fee_rates: dict[str, Decimal]
    maker_fee_rates: dict[str, Decimal]
    slippage_bps: Decimal
    partial_fills: int
    tape: dict[str, deque[Fill]]
    _fill_ids: object
    instrument: Callable[[str], Instrument]
    _emit: Callable[..., None]
    _new_order: Callable[..., Order]
    _set_status: Callable[[Account, Order, OrderStatus], None]
    _sync_position_stop: Callable[[Account, Position], None]

    def _take(self, account: Account, order: Order, qty: Decimal,
              limit: Decimal | None = None) -> Decimal:
        """Execute up to `qty` of `order` as a taker; returns the quantity that filled."""
        inst = self.instrument(order.symbol)
        pieces = self.book.walk(inst, self.feed.price(order.symbol), order.side, qty, limit)
        if self.slippage_bps and limit is None:
            pieces = [(self._slipped(inst, price, order.side), q) for price, q in pieces]
        pieces = chunked(pieces, chunk_size(inst, qty, self.partial_fills))
        rate = self.fee_rates.get(account.venue, Decimal("0.0005"))
        for price, piece in pieces:
            self._apply_fill(account, order, price, piece, rate, maker=False)
        return sum((q for _, q in pieces), Decimal(0))

    def _slipped(self, inst: Instrument, price: Decimal, side: Side) -> Decimal:
        slipped = price * (1 + side.sign * self.slippage_bps / Decimal(10000))
        return inst.round_price(slipped, up=side is Side.BUY)

    def _fill_resting(self, account: Account, order: Order) -> None:
        """The mark crossed a resting limit order: one maker execution at its own price."""
        inst = self.instrument(order.symbol)
        qty = min(order.qty - order.filled_qty, chunk_size(inst, order.qty, self.partial_fills))
        if order.reduce_only:
            pos = account.position(order.symbol, order.position_idx)
            if pos.qty == 0 or pos.side is order.side:
                self._close_order(account, order, OrderStatus.CANCELLED, Closure.REDUCE_ONLY)
                return
            qty = min(qty, pos.size)
        rate = self.maker_fee_rates.get(account.venue, Decimal("0.0002"))
        self._apply_fill(account, order, order.price or self.feed.price(order.symbol), qty, rate,
                         maker=True)

    def _apply_fill(self, account: Account, order: Order, price: Decimal, qty: Decimal,
                    rate: Decimal, maker: bool) -> Fill:
        pos = account.position(order.symbol, order.position_idx)
        was_open = pos.qty != 0
        now = self.clock.now_ms()
        signed = order.side.sign * qty
        closed = min(qty, pos.size) if pos.qty and (pos.qty > 0) != (signed > 0) else Decimal(0)
        realized = (price - pos.entry_price) * closed * (1 if pos.qty > 0 else -1)
        new_qty = pos.qty + signed
        if new_qty == 0:
            pos.entry_price = Decimal(0)
        elif closed == 0:
            pos.entry_price = _q((pos.entry_price * pos.size + price * qty) / abs(new_qty))
        elif closed < qty:
            pos.entry_price = price     # flipped through zero
        if pos.qty == 0:
            pos.created_ms = now
        pos.qty, pos.updated_ms = new_qty, now
        fee = _q(price * qty * rate)
        pos.realized_pnl += realized - fee
        account.wallet += realized - fee
        fill = Fill(next(self._fill_ids), order.id, account.id, order.symbol,  # type: ignore[call-overload]
                    order.side, price, qty, fee, rate, realized, closed, now, maker)
        account.fills.append(fill)
        self.tape[order.symbol].append(fill)
        order.filled_qty += qty
        order.cum_quote += price * qty
        order.fee += fee
        order.realized_pnl += realized
        order.avg_price = _q(order.cum_quote / order.filled_qty)
        self._set_status(account, order, OrderStatus.FILLED if order.filled_qty >= order.qty
                         else OrderStatus.PARTIALLY_FILLED)
        if new_qty == 0:
            pos.stop_loss = pos.trailing_distance = pos.trailing_active_price = None
        self._sync_position_stop(account, pos)
        self._emit(EventKind.FILL, account, fill)
        self._emit(EventKind.ORDER, account, order, Action.TRADE)
        self._emit(EventKind.POSITION, account, pos)
        self._emit(EventKind.BALANCE, account, account)
        if was_open and new_qty == 0:
            self._expire_reduce_only(account, pos)
        return fill

    def _expire_reduce_only(self, account: Account, pos: Position) -> None:
        """Reduce-only limit orders have nothing left to reduce once the position is flat."""
        for order in sorted(account.live.values(), key=lambda o: o.id):
            if (order.kind is OrderKind.PLAIN and order.is_limit and order.reduce_only
                    and order.symbol == pos.symbol and order.position_idx == pos.idx):
                self._close_order(account, order, OrderStatus.CANCELLED, Closure.REDUCE_ONLY)

    def _close_order(self, account: Account, order: Order, status: OrderStatus,
                     closure: Closure | None = None) -> None:
        order.closure = closure
        self._set_status(account, order, status)
        self._emit(EventKind.ORDER, account, order, Action.CANCELLED)

    def _liquidate(self, account: Account, pos: Position, bust: Decimal) -> Order:
        """The venue takes the position over at its bankruptcy price with its own order."""
        for order in sorted(account.live.values(), key=lambda o: o.id):
            if (order.symbol == pos.symbol and order.position_idx == pos.idx
                    and order.kind is not OrderKind.POSITION_SL):
                self._close_order(account, order, OrderStatus.CANCELLED,
                                  Closure.BEFORE_LIQUIDATION)
        side = Side.SELL if pos.qty > 0 else Side.BUY
        order = self._new_order(account, pos.symbol, side, pos.size, OrderKind.PLAIN,
                                OrderStatus.NEW, order_type=OrderType.LIMIT, price=bust,
                                time_in_force=TimeInForce.IOC, reduce_only=True,
                                position_idx=pos.idx, origin=Origin.LIQUIDATION,
                                client_id=f"autoclose-{self.clock.now_ms()}{order_suffix(pos)}")
        # the insurance fund takes the position at the bankruptcy price; no trading fee
        self._apply_fill(account, order, bust, pos.size, Decimal(0), maker=False)
        return order


def order_suffix(pos: Position) -> str:
    return f"-{pos.symbol.lower()}-{pos.idx}"
