"""`VenueOps`: the operations whose wire form differs between Bybit and Binance USD-M.

A subclass per venue (`adapters.exchange.bybit`, `adapters.exchange.binance`) supplies the order
query, the client-id lookup, the stop placement and what the venue's order fields say about how an
order came to be; the shared stop-order bookkeeping is here. A stop held as an order is moved by
placing the new one first and only then cancelling the old one, on both venues (Binance holds
reduce-only quantity stops, several per side, for exactly this), so a move that fails anywhere
leaves at least one stop on the venue.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from warden.adapters.exchange.errors import ORDER_NOT_FOUND, has_code
from warden.domain.reports import OrderReport, PositionModeReport, StopReport
from warden.domain.values import OrderOrigin, OrderSide, Side
from warden.engine.errors import ExchangeFailure, Rejected
from warden.engine.ports import StopMode

if TYPE_CHECKING:
    from warden.adapters.exchange.ccxt_exchange import CcxtExchange

log = logging.getLogger("warden.exchange")


class VenueOps(abc.ABC):
    # the params that mark a ccxt call as one on conditional (trigger) orders
    trigger_params: dict[str, Any] = {}

    def __init__(self, exchange: CcxtExchange) -> None:
        self.ex = exchange
        self.client = exchange.client
        self.venue = exchange.venue

    @abc.abstractmethod
    async def fetch_positions(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def fetch_trades(self, symbol: str, unified: str,
                           order_id: str | None) -> list[dict[str, Any]]:
        """The account's executions of ``symbol`` (of one order when ``order_id`` is given), of
        every kind the venue has: trades, liquidations, auto-deleveraging."""

    @abc.abstractmethod
    async def position_mode(self, symbols: Sequence[str]) -> PositionModeReport: ...

    @abc.abstractmethod
    async def query_order(self, symbol: str, order_id: str) -> OrderReport | None: ...

    @abc.abstractmethod
    async def order_by_client_id(self, symbol: str, unified: str,
                                 client_order_id: str) -> OrderReport | None: ...

    @abc.abstractmethod
    async def place_stop(self, symbol: str, unified: str, side: Side, qty: Decimal, price: Decimal,
                         mode: StopMode, client_order_id: str | None) -> StopReport: ...

    @abc.abstractmethod
    async def move_stop(self, stop: StopReport, unified: str, qty: Decimal, new_price: Decimal,
                        client_order_id: str | None) -> StopReport: ...

    @abc.abstractmethod
    async def cancel_stop(self, stop: StopReport, unified: str) -> None: ...

    @staticmethod
    @abc.abstractmethod
    def order_origin(order: Mapping[str, Any],
                     fill: Mapping[str, Any]) -> tuple[OrderOrigin, str | None]:
        """What the venue's raw order (and one of its fills) say the order was."""

    async def all_trigger_orders(self) -> list[dict[str, Any]]:
        """Every open conditional order of the account, all symbols, as ccxt parses them."""
        return await self.ex.call("fetch_open_orders(trigger)", False, self.client.fetch_open_orders,
                                  None, None, None, {"trigger": True})

    # -- shared stop-order helpers --------------------------------------------------------------

    async def place_stop_order(self, symbol: str, unified: str, side: Side, qty: Decimal,
                               price: Decimal, client_order_id: str | None) -> StopReport:
        """A reduce-only conditional market order for ``qty`` that closes ``side`` when the price
        crosses ``price``."""
        params: dict[str, Any] = {"stopLossPrice": str(price), "reduceOnly": True}
        if client_order_id is not None:
            params["clientOrderId"] = client_order_id
        order = await self.ex.call("create_order(stop)", True, self.client.create_order, unified,
                                   "market", OrderSide.exiting(side).value, float(qty), None, params)
        return StopReport(venue=self.venue, symbol=symbol, side=side, stop_price=price,
                          order_id=str(order["id"]), raw=dict(order.get("info") or {}),
                          client_order_id=client_order_id)

    async def cancel_order(self, order_id: str, unified: str, trigger: bool) -> None:
        """Cancel one order; one that is already gone (filled, cancelled) counts as cancelled."""
        try:
            await self.ex.call("cancel_order", True, self.client.cancel_order, order_id, unified,
                               dict(self.trigger_params) if trigger else {})
        except Rejected as exc:
            if not has_code(exc, self.venue, ORDER_NOT_FOUND):
                raise

    async def replace_stop_order(self, stop: StopReport, unified: str, qty: Decimal,
                                 new_price: Decimal, client_order_id: str | None) -> StopReport:
        """Move a stop held as an order: neither venue amends a conditional order's trigger here,
        so the new stop is placed first and the old one cancelled after it. A refused or unknown
        placement raises before anything is cancelled; an old stop that cannot be cancelled now
        stays beside the new one (both protect) until the engine sweeps the position's orders."""
        new = await self.place_stop(stop.symbol, unified, stop.side, qty, new_price,
                                    StopMode.CONDITIONAL, client_order_id)
        if stop.order_id is not None:
            try:
                await self.cancel_order(stop.order_id, unified, trigger=True)
            except ExchangeFailure as exc:
                log.warning("old stop %s of %s left beside the new one %s: %s", stop.order_id,
                            stop.symbol, new.order_id, exc)
        return new
