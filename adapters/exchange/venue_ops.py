"""`VenueOps`: the operations whose wire form differs between Bybit and Binance USD-M.

A subclass per venue (`adapters.exchange.bybit`, `adapters.exchange.binance`) supplies the order
query, the client-id lookup and the stop placement; the shared stop-order bookkeeping (move = place
then cancel, or cancel then place where the venue allows only one stop) is here.
"""

from __future__ import annotations

import abc
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from warden.adapters.exchange.errors import ORDER_NOT_FOUND, has_code
from warden.domain.reports import OrderReport, StopReport
from warden.domain.values import OrderSide, Side
from warden.engine.errors import Rejected
from warden.engine.ports import StopMode

if TYPE_CHECKING:
    from warden.adapters.exchange.ccxt_exchange import CcxtExchange


class VenueOps(abc.ABC):
    # Binance refuses a second closePosition stop on the same side (-4130): cancel first there.
    place_before_cancel = True

    def __init__(self, exchange: CcxtExchange) -> None:
        self.ex = exchange
        self.client = exchange.client
        self.venue = exchange.venue

    @abc.abstractmethod
    async def fetch_positions(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def fetch_order_trades(self, order_id: str, unified: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def query_order(self, symbol: str, order_id: str) -> OrderReport | None: ...

    @abc.abstractmethod
    async def order_by_client_id(self, symbol: str, unified: str,
                                 client_order_id: str) -> OrderReport | None: ...

    @abc.abstractmethod
    async def place_stop(self, symbol: str, unified: str, side: Side, qty: Decimal, price: Decimal,
                         mode: StopMode) -> StopReport: ...

    @abc.abstractmethod
    async def move_stop(self, stop: StopReport, unified: str, qty: Decimal,
                        new_price: Decimal) -> StopReport: ...

    @abc.abstractmethod
    async def cancel_stop(self, stop: StopReport, unified: str) -> None: ...

    # -- shared stop-order helpers --------------------------------------------------------------

    async def place_stop_order(self, symbol: str, unified: str, side: Side, qty: Decimal,
                               price: Decimal, params: dict[str, Any]) -> StopReport:
        """A conditional market order that closes ``side`` when the price crosses ``price``."""
        amount = None if params.get("closePosition") else float(qty)
        order = await self.ex.call("create_order(stop)", True, self.client.create_order, unified,
                                   "market", OrderSide.exiting(side).value, amount, None,
                                   {"stopLossPrice": str(price), **params})
        return StopReport(venue=self.venue, symbol=symbol, side=side, stop_price=price,
                          order_id=str(order["id"]), raw=dict(order.get("info") or {}))

    async def cancel_stop_order(self, stop: StopReport, unified: str, params: dict[str, Any]) -> None:
        try:
            await self.ex.call("cancel_order(stop)", True, self.client.cancel_order,
                               stop.order_id, unified, params)
        except Rejected as exc:
            if not has_code(exc, self.venue, ORDER_NOT_FOUND):
                raise  # a stop that is already gone (triggered or cancelled) counts as removed

    async def replace_stop_order(self, stop: StopReport, unified: str, qty: Decimal,
                                 new_price: Decimal) -> StopReport:
        """Move a stop held as an order: there is no amend on both venues' conditional orders."""
        if self.place_before_cancel:
            new = await self.place_stop(stop.symbol, unified, stop.side, qty, new_price,
                                        StopMode.CONDITIONAL)
            await self.cancel_stop(stop, unified)
            return new
        await self.cancel_stop(stop, unified)
        try:
            return await self.place_stop(stop.symbol, unified, stop.side, qty, new_price,
                                         StopMode.CONDITIONAL)
        except Rejected as exc:
            # Put the old protection back before reporting the rejection; the engine reads the
            # restored stop (a new order id) from the exception.
            exc.restored_stop = await self.place_stop(
                stop.symbol, unified, stop.side, qty, stop.stop_price, StopMode.CONDITIONAL)
            raise
