"""Position-level commands: leverage, the position mode (one-way or hedge), the Bybit-style stop
loss attached to a position (and its trailing variant), and positions opened or closed "from
outside" for the control API. Part of `Engine` (a mixin).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from . import rules
from .book import (
    Account,
    Order,
    OrderKind,
    OrderStatus,
    Position,
    Reason,
    Rejected,
    Side,
    Trigger,
)
from .events import Action, EventKind, command
from .market import Instrument, PriceFeed

if TYPE_CHECKING:
    from .market import Clock


class PositionDesk:
    feed: PriceFeed
    clock: Clock
    instrument: Callable[[str], Instrument]
    _emit: Callable[..., None]
    _new_order: Callable[..., Order]
    _close_order: Callable[..., None]
    _move_trailing: Callable[[Account, Position, Decimal], None]
    place_market: Callable[..., Order]

    @command
    def set_leverage(self, account: Account, symbol: str, leverage: int,
                     reject_unchanged: bool = False) -> Position:
        inst = self.instrument(symbol)
        if not 1 <= leverage <= inst.max_leverage:
            raise Rejected(Reason.LEVERAGE_INVALID, str(leverage), limit=inst.max_leverage)
        positions = account.positions_of(symbol)
        if reject_unchanged and all(p.leverage == leverage for p in positions):
            raise Rejected(Reason.LEVERAGE_NOT_MODIFIED, str(leverage))
        account.leverage[symbol] = leverage
        for pos in positions:
            pos.leverage = leverage
        return positions[0]

    @command
    def set_position_mode(self, account: Account, hedge: bool,
                          symbols: Iterable[str]) -> list[str]:
        """Switch symbols to hedge (two-sided) or one-way mode, as Bybit switch-mode and Binance
        positionSide/dual do: refused while a position or an open order exists."""
        targets = [self.instrument(s).symbol for s in symbols]
        changing = [s for s in targets if (s in account.hedge) != hedge]
        if not changing:
            raise Rejected(Reason.MODE_NOT_MODIFIED, ",".join(targets))
        if any(p.qty for p in account.positions.values() if p.symbol in changing):
            raise Rejected(Reason.MODE_HAS_POSITION, ",".join(changing))
        if any(o.symbol in changing for o in account.live.values()):
            raise Rejected(Reason.MODE_HAS_ORDERS, ",".join(changing))
        for symbol in changing:
            if hedge:
                account.hedge.add(symbol)
            else:
                account.hedge.discard(symbol)
        return changing

    @command
    def set_position_stop(self, account: Account, symbol: str, stop_loss: Decimal | None,
                          trailing: Decimal | None = None, active_price: Decimal | None = None,
                          idx: int = 0) -> Position:
        """Attach (or with 0 remove) the position's stop loss, like Bybit trading-stop."""
        inst = self.instrument(symbol)
        rules.check_position_idx(account, symbol, idx)
        pos = account.position(symbol, idx)
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
        stops = [o for o in account.live.values() if o.kind is OrderKind.POSITION_SL
                 and o.symbol == pos.symbol and o.position_idx == pos.idx]
        if any(o.status is not OrderStatus.UNTRIGGERED for o in stops):
            return  # fired: it fills for the size it had, in pieces or not, and closes the position
        order = stops[0] if stops else None
        if pos.stop_loss is None or pos.qty == 0:
            if order is not None:
                self._close_order(account, order, OrderStatus.DEACTIVATED)
            return
        side = Side.BUY if pos.qty > 0 else Side.SELL
        if order is None:
            order = self._new_order(account, pos.symbol, side.opposite, pos.size,
                                    OrderKind.POSITION_SL, OrderStatus.UNTRIGGERED,
                                    reduce_only=True, close_position=True, position_idx=pos.idx)
        order.trigger_price = pos.stop_loss
        order.trigger = Trigger.FALL if side is Side.BUY else Trigger.RISE
        order.qty = pos.size
        order.updated_ms = self.clock.now_ms()
        self._emit(EventKind.ORDER, account, order, Action.UPDATED)

    # -- outside world (control API) -----------------------------------------------------------
    def open_external(self, account: Account, symbol: str, side: Side, qty: Decimal,
                      idx: int | None = None) -> Order:
        """A position opened outside the bot (e.g. by hand in the web UI): a phantom."""
        if idx is None:
            idx = (1 if side is Side.BUY else 2) if symbol in account.hedge else 0
        return self.place_market(account, symbol, side, qty, position_idx=idx,
                                 client_id=f"external-{len(account.orders) + 1}")

    def close_external(self, account: Account, symbol: str) -> Order | None:
        """Close the symbol's position(s) by hand; returns the last closing order, if any."""
        order = None
        for pos in account.positions_of(symbol):
            if pos.side is not None:
                order = self.place_market(account, symbol, pos.side.opposite, pos.size,
                                          reduce_only=True, position_idx=pos.idx,
                                          client_id=f"external-{len(account.orders) + 1}")
        return order

    def unrealized(self, account: Account) -> Decimal:
        return sum((p.unrealized(self.feed.price(p.symbol)) for p in account.positions.values()),
                   Decimal(0))
