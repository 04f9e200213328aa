"""`CcxtExchange`: the `ExchangePort` on unmodified ccxt (async REST via a ccxt.pro client).

What differs between Bybit and Binance (order queries, stops, client-id lookups) lives in
`adapters.exchange.bybit` and `adapters.exchange.binance`; this module holds what both share:
error classification of every call, market orders, positions, fills and the price chain.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
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
    PositionModeReport,
    PositionReport,
    PriceAnswer,
    StopReport,
)
from warden.domain.values import OrderSide, OrderStatus, PriceSource, ReportSource, Side, Venue
from warden.engine.errors import Rejected
from warden.engine.ports import ExchangePort, StopMode

T = TypeVar("T")
# order answers kept for the entry's price chain, which reads them right after the order
RESPONSES_KEPT = 256
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

    async def fetch_position_mode(self, symbols: Sequence[str]) -> PositionModeReport:
        await self.unified_markets()
        return await self.ops.position_mode(symbols)

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

    # -- orders -------------------------------------------------------------------------------

    async def open_market(self, symbol: str, side: Side, qty: Decimal,
                          client_order_id: str) -> OrderReport:
        return await self._create(symbol, OrderSide.entering(side), qty, None, client_order_id, False)

    async def close_market(self, symbol: str, side: Side, qty: Decimal,
                           client_order_id: str) -> OrderReport:
        return await self._create(symbol, OrderSide.exiting(side), qty, None, client_order_id, True)

    async def place_exit_limit(self, symbol: str, side: Side, qty: Decimal, price: Decimal,
                               client_order_id: str) -> OrderReport:
        return await self._create(symbol, OrderSide.exiting(side), qty, price, client_order_id, True)

    async def _create(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal | None,
                      client_order_id: str, reduce_only: bool) -> OrderReport:
        """A market order (``price`` None) or a GTC limit order, idempotent by client id."""
        unified = await self.unified(symbol)
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if reduce_only:
            params["reduceOnly"] = True
        if price is not None:
            params["timeInForce"] = "GTC"
        kind = "market" if price is None else "limit"
        try:
            order = await self.call(f"create_order({kind})", True, self.client.create_order, unified,
                                    kind, side.value, float(qty), None if price is None else str(price),
                                    params)
        except Rejected as exc:
            if not has_code(exc, self.venue, DUPLICATE_CLIENT_ID):
                raise
            existing = await self.fetch_order_by_client_id(symbol, client_order_id)
            if existing is None:
                raise
            return existing
        report = self._order_from_response(order, symbol, side, qty, client_order_id, reduce_only, price)
        self._responses[report.order_id] = report
        if len(self._responses) > RESPONSES_KEPT:  # the oldest go: the price chain asks the venue
            del self._responses[next(iter(self._responses))]
        return report

    def _order_from_response(self, order: dict[str, Any], symbol: str, side: OrderSide, qty: Decimal,
                             client_order_id: str, reduce_only: bool,
                             price: Decimal | None = None) -> OrderReport:
        info = order.get("info") or {}
        if normalize.first(info, "orderStatus", "status") is not None:
            return normalize.parse_order(self.venue, order)
        # Bybit's create (and amend) answers {orderId, orderLinkId} only: the rest is unknown yet.
        return OrderReport(venue=self.venue, symbol=symbol, order_id=str(order["id"]),
                           client_order_id=client_order_id, status=OrderStatus.UNKNOWN, side=side,
                           qty=qty, filled_qty=Decimal(0), average_price=None,
                           reduce_only=reduce_only, raw=dict(info), price=price)

    async def amend_order(self, order: OrderReport, price: Decimal) -> OrderReport:
        unified = await self.unified(order.symbol)
        # Binance's modify wants side and quantity too; Bybit's amend takes the same quantity as is
        answer = await self.call("edit_order", True, self.client.edit_order, order.order_id, unified,
                                 "limit", order.side.value, float(order.qty), str(price), {})
        return self._order_from_response(answer, order.symbol, order.side, order.qty,
                                         order.client_order_id or "", order.reduce_only, price)

    # -- the execution price chain --------------------------------------------------------------

    async def resolve_execution_price(self, symbol: str, order_id: str, client_order_id: str | None,
                                      expected_qty: Decimal,
                                      deadline: float) -> ExecutionPrice | FillUnknown:
        async def from_response() -> ExecutionPrice | PriceAnswer:
            response = self._responses.get(order_id)
            if response is None:
                return PriceAnswer(PriceSource.ORDER_RESPONSE,
                                   "not kept (the order was sent before this process started)")
            return _from_order(response, PriceSource.ORDER_RESPONSE)

        async def from_query() -> ExecutionPrice | PriceAnswer:
            order = await self.ops.query_order(symbol, order_id)
            if order is None:
                return PriceAnswer(PriceSource.ORDER_QUERY, "the venue does not know the order (yet)")
            return _from_order(order, PriceSource.ORDER_QUERY)

        async def from_fills() -> ExecutionPrice | PriceAnswer:
            fills = await self.fetch_fills(symbol, order_id)
            total = normalize.vwap(fills)
            if total is None:
                return PriceAnswer(PriceSource.EXECUTIONS, "no execution listed for the order")
            return ExecutionPrice(price=total[0], qty=total[1], source=PriceSource.EXECUTIONS,
                                  fee=total[2], raw={"fills": [f.raw for f in fills]})

        async def from_position() -> ExecutionPrice | PriceAnswer:
            mine = [p for p in await self.fetch_positions() if p.symbol == symbol]
            return _from_position(mine, expected_qty)

        steps = [NamedStep(PriceSource.ORDER_RESPONSE, from_response),
                 NamedStep(PriceSource.ORDER_QUERY, from_query),
                 NamedStep(PriceSource.EXECUTIONS, from_fills),
                 NamedStep(PriceSource.POSITION, from_position)]
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

    async def fetch_stops(self, symbol: str | None = None) -> list[StopReport]:
        stops = []
        for order in await self._trigger_orders(symbol):
            # Bybit lists a position's own stop as an order too (stopOrderType "StopLoss"): it is
            # reported once, from the position, below.
            attached = order.raw.get("stopOrderType") in _POSITION_TPSL
            if order.trigger_price is not None and order.reduce_only and not attached:
                position_side = Side.LONG if order.side is OrderSide.SELL else Side.SHORT
                stops.append(StopReport(self.venue, order.symbol, position_side, order.trigger_price,
                                        order.order_id, raw=order.raw,
                                        client_order_id=order.client_order_id))
        for position in await self.fetch_positions():
            if symbol in (None, position.symbol) and position.stop_loss and position.side is not None:
                stops.append(StopReport(self.venue, position.symbol, position.side,
                                        position.stop_loss, None, raw=position.raw))
        return stops

    async def cancel_stop(self, stop: StopReport) -> None:
        unified = await self.unified(stop.symbol)
        await self.ops.cancel_stop(stop, unified)

    # -- open orders and what closed a position -------------------------------------------------

    async def _trigger_orders(self, symbol: str | None) -> list[OrderReport]:
        """The open conditional orders of ``symbol``, or of every symbol of the account (None)."""
        if symbol is None:
            await self.unified_markets()
            orders = await self.ops.all_trigger_orders()
        else:
            orders = await self.call("fetch_open_orders(trigger)", False, self.client.fetch_open_orders,
                                     await self.unified(symbol), None, None, {"trigger": True})
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


def _from_order(order: OrderReport, source: PriceSource) -> ExecutionPrice | PriceAnswer:
    """The order's fill, or what the venue said about it instead: an order it reports executed
    (a status of filled, or an executed quantity) without a real price is refused, quoted."""
    if order.average_price is not None and order.filled_qty > 0:
        return ExecutionPrice(price=order.average_price, qty=order.filled_qty, source=source,
                              raw=order.raw)
    key, said_price = normalize.said(order.raw, "avgPrice", "ap")
    price = f'{key} "{said_price}"' if key else "no average price"
    executed = order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED) or order.filled_qty > 0
    if order.status is OrderStatus.UNKNOWN and not executed:
        return PriceAnswer(source, "named the order only: no status, no price", raw=order.raw)
    said = (f"answered {order.raw.get('orderStatus') or order.raw.get('status') or order.status.name} "
            f"with {price}, {order.filled_qty} of {order.qty} executed")
    return PriceAnswer(source, said, price=normalize.dec(said_price), qty=order.filled_qty,
                       refused=executed, raw=order.raw)


def _from_position(reports: list[PositionReport], expected_qty: Decimal) -> ExecutionPrice | PriceAnswer:
    """Only a position made by this order alone has this order's price as its average."""
    for position in reports:
        if position.entry_price and position.size == expected_qty:
            return ExecutionPrice(price=position.entry_price, qty=position.size,
                                  source=PriceSource.POSITION, raw=position.raw)
    if not reports:
        return PriceAnswer(PriceSource.POSITION, "no open position in the symbol")
    held = reports[0]
    key, said_price = normalize.said(held.raw, "avgPrice", "entryPrice", "ep")
    if held.size == expected_qty:
        return PriceAnswer(PriceSource.POSITION, f'holds {held.size} with {key} "{said_price}": no price',
                           raw=held.raw)
    return PriceAnswer(PriceSource.POSITION, f"holds {held.size} at {said_price}, the order was for "
                       f"{expected_qty}: its average is not the order's price", raw=held.raw)


def _ops_for(exchange: CcxtExchange) -> VenueOps:
    return BybitOps(exchange) if exchange.config.venue is Venue.BYBIT else BinanceOps(exchange)
