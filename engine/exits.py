"""The end of a position on the venue: nothing of it left behind, and why it ended.

Whenever warden concludes a position is flat (its own close, a stop hit, a liquidation, a hand
close, a rollback, an aged exit), `Exits.record_closed`:

1. **sweeps** the venue: every open order warden sent for the position (its stops, any resting
   order, found by the ids warden recorded and by the client-id prefix it derives from the position)
   is cancelled, and a fresh listing must show none of them before anything is recorded, so a stop
   left behind can never close the next position on the symbol. Orders warden did not send are
   never touched;
2. **explains** the close from the venue's own record: the exiting fills since the position opened
   and the orders behind them (`ExchangePort.describe_closing_orders`), attributed by
   `domain.policies.attribute_close`. Only when the venue describes no order is the reason read
   from the exit price, and then the event says it is a guess (`CloseBasis.PRICE_GUESS`);
3. records `PositionClosed` (or `PositionRolledBack`) with the closing order and the swept ids.

Before all that, the aged exit's resting order (`engine.exit_order`) is settled in the log: recorded
filled when the venue filled it, else cancelled with its intent and outcome. That order is warden's
own: when it is the last order that closed the position, the reason is `AGED_EXIT`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from warden.domain.lifecycle import Intent, Status
from warden.domain.policies import OwnOrders, attribute_close
from warden.domain.position import Position
from warden.domain.reports import ClosingOrder, FillReport
from warden.domain.values import ZERO, CloseReason, OrderOrigin, OrderSide
from warden.engine.context import EngineContext
from warden.engine.errors import ExchangeFailure
from warden.engine.exit_order import ExitOrders

log = logging.getLogger("warden.exits")
SWEEP_ROUNDS = 3  # list, cancel, list again: a venue that keeps an order after that is retried later


@dataclass(frozen=True)
class ExitFacts:
    """The exiting fills of a position as the venue reports them, and the orders behind them."""

    price: Decimal | None
    fees: Decimal
    orders: list[ClosingOrder] = field(default_factory=list)


class Exits:
    def __init__(self, ctx: EngineContext, exit_orders: ExitOrders) -> None:
        self.ctx, self.exit_orders = ctx, exit_orders

    async def sweep(self, p: Position) -> list[str] | None:
        """Cancel every open order warden sent for ``p``; the ids cancelled once a fresh listing
        shows none left, or None when the venue still lists one (or cannot be asked)."""
        port, cancelled = self.ctx.port(p), []
        for _ in range(SWEEP_ROUNDS):
            try:
                left = [o for o in await port.fetch_open_orders(p.symbol)
                        if p.owns_order(o.order_id, o.client_order_id)]
            except ExchangeFailure:
                await self.ctx.pause()
                continue
            if not left:
                return cancelled
            for order in left:
                with contextlib.suppress(ExchangeFailure):  # the next listing tells
                    await port.cancel_order(order)
                    cancelled.append(order.order_id)
        log.warning("%s %s: orders of a closed position still on the venue; retried later",
                    p.venue, p.symbol)
        return None

    async def facts(self, p: Position, order_id: str | None = None) -> ExitFacts:
        """The exit as the venue reports it: every exiting fill since ``p`` opened (and every fill
        of ``order_id``, warden's close order), their VWAP and fees, and what placed them."""
        port = self.ctx.port(p)
        try:
            fills = await port.fetch_fills(p.symbol)
        except ExchangeFailure:
            return ExitFacts(None, ZERO)
        exiting = [f for f in fills if f.side is OrderSide.exiting(p.side) and (
            f.order_id == order_id or f.time is None or f.time >= p.opened_at)]
        price, fees = _vwap(exiting)
        try:
            orders = await port.describe_closing_orders(p.symbol, exiting)
        except ExchangeFailure:
            orders = []
        # warden's own close order is known even when the venue cannot describe it now
        orders = [replace(o, origin=OrderOrigin.ORDER, client_order_id=p.close_client_order_id)
                  if o.order_id == order_id and o.origin is OrderOrigin.UNKNOWN else o
                  for o in orders]
        return ExitFacts(price, fees, orders)

    async def record_closed(self, p: Position, *, order_id: str | None = None,
                            detail: str | None = None,
                            liquidation_price: Decimal | None = None) -> bool:
        """``p`` is flat on the venue: sweep, explain and record it closed. False (nothing
        recorded) while the venue still holds an order of it: the next reconcile tries again."""
        await self._settle_exit_order(p)
        cancelled = await self.sweep(p)
        if cancelled is None:
            return False
        facts = await self.facts(p, order_id)
        raw = {"cancelled_orders": cancelled}
        requested = p.requested_close_reason if p.pending_intent is Intent.CLOSE else None
        if requested is None and p.exit_client_order_id is not None:
            requested = CloseReason.AGED_EXIT  # warden's own order that may have closed it: the aged exit's
        if requested is CloseReason.ROLLED_BACK:
            p.roll_back(reason=detail or f"could not be protected ({p.stop_rejections} stop rejections)",
                        exit_price=facts.price, fees=facts.fees, at=self.ctx.now(), raw=raw)
        else:
            own = OwnOrders(p.client_id_prefix, frozenset(p.stop_order_ids), p.stop_price,
                            p.status is Status.TRAILING, requested)
            why = attribute_close(facts.orders, own, side=p.side, exit_price=facts.price,
                                  liquidation_price=liquidation_price)
            p.close(exit_price=facts.price, fees=facts.fees, reason=why.reason, basis=why.basis,
                    closed_by=why.order, detail=detail, at=self.ctx.now(), raw=raw)
        await self.ctx.save(p)
        return True


    async def _settle_exit_order(self, p: Position) -> None:
        """The aged exit's order of a flat position, in the log before the close: recorded filled
        if the venue filled it, else taken off (a venue cancels a reduce-only order of a flat
        position itself; the log says so either way, with how much of it had filled)."""
        if p.exit_client_order_id is None:
            return
        gone = "the position closed without it (the stop, or another order)"
        await self.exit_orders.settle(p, gone)
        if p.exit_resting and p.exit_intent is None:  # still on the venue: not for long
            await self.exit_orders.cancel(p, gone)


def _vwap(fills: list[FillReport]) -> tuple[Decimal | None, Decimal]:
    qty = sum((f.qty for f in fills), ZERO)
    if qty <= 0:
        return None, ZERO
    return sum((f.price * f.qty for f in fills), ZERO) / qty, sum((f.fee for f in fills), ZERO)
