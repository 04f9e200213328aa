"""`CcxtExchange`: the `ExchangePort` on unmodified ccxt (async REST via a ccxt.pro client).

What differs between Bybit and Binance (order queries, stops, client-id lookups) lives in
`adapters.exchange.bybit` and `adapters.exchange.binance`; this module holds what both share:
error classification of every call, market orders, positions, fills and the price chain.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from warden.adapters.exchange import closing_orders, normalize
from warden.adapters.exchange.binance import BinanceOps
from warden.adapters.exchange.bybit import BybitOps
from warden.adapters.exchange.config import ExchangeConfig, build_client
from warden.adapters.exchange.errors import DUPLICATE_CLIENT_ID, classify, has_code
from warden.adapters.exchange.price_chain import NamedStep, resolve_price
from warden.adapters.exchange.venue_ops import VenueOps
from warden.domain.instrument import Instrument
from warden.domain.reports import (
    ClosingOrder,
    ExecutionPrice,
    FillReport,
    FillUnknown,
    OrderReport,
    PositionReport,
    StopReport,
)
from warden.domain.values import OrderSide, OrderStatus, PriceSource, ReportSource, Side, Venue
from warden.engine.errors import Rejected
from warden.engine.ports import ExchangePort, StopMode

T = TypeVar("T")
_POSITION_TPSL = {"StopLoss", "TakeProfit", "TrailingStop", "PartialStopLoss", "PartialTakeProfit"}


class CcxtExchange(ExchangePort):
    def __init__(self, config: ExchangeConfig, *, stop_mode: StopMode = StopMode.POSITION,
                 poll_interval: float = 0.2, client: Any = None) -> None:
        self.config = config
        self.venue = config.venue.value
        self.account = config.account
        self.client = client if client is not None else build_client(config)
        self.stop_mode = stop_mode if config.venue is Venue.BYBIT else StopMode.CONDITIONAL
        self.poll_interval = poll_interval
        self._responses: dict[str, OrderReport] = {}
        self.ops = _ops_for(self)

    def __repr__(self) -> str:
        return f"CcxtExchange({self.config!r}, stop_mode={self.stop_mode.value})"

    # -- plumbing -------------------------------------------------------------------------------

    async def call(self, operation: str, write: bool, fn: Callable[..., Awaitable[T]],
                   *args: Any, **kwargs: Any) -> T:
        """Await one ccxt call; every failure leaves as Rejected, Retryable or UnknownOutcome."""
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc, self.venue, operation=operation, write=write) from exc

    async def unified(self, symbol: str) -> str:
        """ccxt's unified symbol (``BTC/USDT:USDT``) for the venue id ``BTCUSDT``."""
        await self.unified_markets()
        markets = self.client.markets_by_id.get(symbol)
        if not markets:
            raise Rejected(f"unknown symbol {symbol}", venue_message="unknown symbol")
        return markets[0]["symbol"]

    async def unified_markets(self) -> None:
        if not self.client.markets:
            await self.call("load_markets", False, self.client.load_markets)

    async def close(self) -> None:
        await self.client.close()

    # -- instruments, positions, fills ----------------------------------------------------------

    async def load_instruments(self) -> dict[str, Instrument]:
        markets = await self.call("load_markets", False, self.client.load_markets, True)
        out = {}
        for market in markets.values():
            if market.get("linear") and market.get("swap") and market.get("active") is not False:
                instrument = normalize.parse_instrument(market)
                out[instrument.symbol] = instrument
        return out

    async def fetch_positions(self) -> list[PositionReport]:
        await self.unified_markets()
        raw = await self.call("fetch_positions", False, self.ops.fetch_positions)
        reports = [normalize.parse_position(self.venue, self.account, p, ReportSource.REST) for p in raw]
        return [r for r in reports if not r.is_flat]

    async def fetch_fills(self, symbol: str, order_id: str | None = None) -> list[FillReport]:
        unified = await self.unified(symbol)
        trades = await self.call("fetch_trades", False, self.ops.fetch_trades, symbol, unified,
                                 order_id)
        fills = [normalize.parse_fill(self.venue, t) for t in trades]
        if order_id is not None:
            fills = [f for f in fills if f.order_id == order_id]
        return normalize.unique_fills(fills)

    async def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> OrderReport | None:
        unified = await self.unified(symbol)
        return await self.ops.order_by_client_id(symbol, unified, client_order_id)

    # -- market orders --------------------------------------------------------------------------

    async def open_market(self, symbol: str, side: Side, qty: Decimal,
                          client_order_id: str) -> OrderReport:
        return await self._market(symbol, OrderSide.entering(side), qty, client_order_id, False)

    async def close_market(self, symbol: str, side: Side, qty: Decimal,
                           client_order_id: str) -> OrderReport:
        return await self._market(symbol, OrderSide.exiting(side), qty, client_order_id, True)

    async def _market(self, symbol: str, side: OrderSide, qty: Decimal, client_order_id: str,
                      reduce_only: bool) -> OrderReport:
        unified = await self.unified(symbol)
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if reduce_only:
            params["reduceOnly"] = True
        try:
            order = await self.call("create_order", True, self.client.create_order, unified,
                                    "market", side.value, float(qty), None, params)
        except Rejected as exc:
            if not has_code(exc, self.venue, DUPLICATE_CLIENT_ID):
                raise
            existing = await self.fetch_order_by_client_id(symbol, client_order_id)
            if existing is None:
                raise
            return existing
        report = self._order_from_response(order, symbol, side, qty, client_order_id, reduce_only)
        self._responses[report.order_id] = report
        return report

    def _order_from_response(self, order: dict[str, Any], symbol: str, side: OrderSide, qty: Decimal,
                             client_order_id: str, reduce_only: bool) -> OrderReport:
        info = order.get("info") or {}
        if normalize.first(info, "orderStatus", "status") is not None:
            return normalize.parse_order(self.venue, order)
        # Bybit's create answers {orderId, orderLinkId} only: everything else is unknown yet.
        return OrderReport(venue=self.venue, symbol=symbol, order_id=str(order["id"]),
                           client_order_id=client_order_id, status=OrderStatus.UNKNOWN, side=side,
                           qty=qty, filled_qty=Decimal(0), average_price=None,
                           reduce_only=reduce_only, raw=dict(info))

    # -- the execution price chain --------------------------------------------------------------

    async def resolve_execution_price(self, symbol: str, order_id: str, client_order_id: str | None,
                                      expected_qty: Decimal,
                                      deadline: float) -> ExecutionPrice | FillUnknown:
        async def from_response() -> ExecutionPrice | None:
            return _from_order(self._responses.get(order_id), PriceSource.ORDER_RESPONSE)

        async def from_query() -> ExecutionPrice | None:
            return _from_order(await self.ops.query_order(symbol, order_id), PriceSource.ORDER_QUERY)

        async def from_fills() -> ExecutionPrice | None:
            fills = await self.fetch_fills(symbol, order_id)
            total = normalize.vwap(fills)
            if total is None:
                return None
            return ExecutionPrice(price=total[0], qty=total[1], source=PriceSource.EXECUTIONS,
                                  fee=total[2], raw={"fills": [f.raw for f in fills]})

        async def from_position() -> ExecutionPrice | None:
            # Only a position made by this order alone has this order's price as its average.
            for position in await self.fetch_positions():
                if position.symbol == symbol and position.entry_price and position.size == expected_qty:
                    return ExecutionPrice(price=position.entry_price, qty=position.size,
                                          source=PriceSource.POSITION, raw=position.raw)
            return None

        steps = [NamedStep("order_response", from_response), NamedStep("order_query", from_query),
                 NamedStep("executions", from_fills), NamedStep("position", from_position)]
        return await resolve_price(steps, expected_qty, deadline, poll_interval=self.poll_interval,
                                   clock=time.monotonic)

    # -- stops ----------------------------------------------------------------------------------

    async def place_stop(self, symbol: str, side: Side, qty: Decimal, stop_price: Decimal,
                         mode: StopMode | None = None,
                         client_order_id: str | None = None) -> StopReport:
        unified = await self.unified(symbol)
        return await self.ops.place_stop(symbol, unified, side, qty, stop_price,
                                         mode or self.stop_mode, client_order_id)

    async def move_stop(self, stop: StopReport, qty: Decimal, new_price: Decimal,
                        client_order_id: str | None = None) -> StopReport:
        unified = await self.unified(stop.symbol)
        return await self.ops.move_stop(stop, unified, qty, new_price, client_order_id)

    async def fetch_stops(self, symbol: str) -> list[StopReport]:
        stops = []
        for order in await self._trigger_orders(symbol):
            # Bybit lists a position's own stop as an order too (stopOrderType "StopLoss"): it is
            # reported once, from the position, below.
            attached = order.raw.get("stopOrderType") in _POSITION_TPSL
            if order.trigger_price is not None and order.reduce_only and not attached:
                position_side = Side.LONG if order.side is OrderSide.SELL else Side.SHORT
                stops.append(StopReport(self.venue, symbol, position_side, order.trigger_price,
                                        order.order_id, raw=order.raw,
                                        client_order_id=order.client_order_id))
        for position in await self.fetch_positions():
            if position.symbol == symbol and position.stop_loss and position.side is not None:
                stops.append(StopReport(self.venue, symbol, position.side, position.stop_loss, None,
                                        raw=position.raw))
        return stops

    async def cancel_stop(self, stop: StopReport) -> None:
        unified = await self.unified(stop.symbol)
        await self.ops.cancel_stop(stop, unified)

    # -- open orders and what closed a position -------------------------------------------------

    async def _trigger_orders(self, symbol: str) -> list[OrderReport]:
        unified = await self.unified(symbol)
        orders = await self.call("fetch_open_orders(trigger)", False, self.client.fetch_open_orders,
                                 unified, None, None, {"trigger": True})
        return [normalize.parse_order(self.venue, o) for o in orders]

    async def fetch_open_orders(self, symbol: str) -> list[OrderReport]:
        unified = await self.unified(symbol)
        regular = await self.call("fetch_open_orders", False, self.client.fetch_open_orders, unified)
        seen, out = set(), []
        for order in [normalize.parse_order(self.venue, o) for o in regular] + \
                await self._trigger_orders(symbol):
            if order.order_id not in seen:
                seen.add(order.order_id)
                out.append(order)
        return out

    async def cancel_order(self, order: OrderReport) -> None:
        unified = await self.unified(order.symbol)
        await self.ops.cancel_order(order.order_id, unified, trigger=order.trigger_price is not None)

    async def describe_closing_orders(self, symbol: str,
                                      fills: list[FillReport]) -> list[ClosingOrder]:
        async def query(order_id: str) -> OrderReport | None:
            return await self.ops.query_order(symbol, order_id)
        return await closing_orders.describe(fills, query, self.ops.order_origin)


def _from_order(order: OrderReport | None, source: PriceSource) -> ExecutionPrice | None:
    if order is None or order.average_price is None or order.filled_qty <= 0:
        return None
    return ExecutionPrice(price=order.average_price, qty=order.filled_qty, source=source,
                          raw=order.raw)


def _ops_for(exchange: CcxtExchange) -> VenueOps:
    return BybitOps(exchange) if exchange.config.venue is Venue.BYBIT else BinanceOps(exchange)
