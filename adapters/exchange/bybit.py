"""Bybit v5 (linear) specifics: order lookups and the two ways of holding a stop-loss.

Bybit's ``create_order`` answers only ``{orderId, orderLinkId}``, so the order query goes straight
to ``/v5/order/realtime`` and then ``/v5/order/history`` through ccxt's implicit endpoints, whose raw
list items `normalize` reads directly. A stop is either the position's own stop
(``/v5/position/trading-stop``, tpslMode Full: one per position, moved in place, and a repeat of the
same price answers 34040 "not modified") or a reduce-only conditional market order, moved by
placing the new order before cancelling the old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from warden.adapters.exchange import normalize
from warden.adapters.exchange.closing_orders import bybit_origin
from warden.adapters.exchange.errors import NOT_MODIFIED, has_code
from warden.adapters.exchange.venue_ops import VenueOps
from warden.domain.reports import OrderReport, PositionModeReport, StopReport
from warden.domain.values import PositionMode, Side
from warden.engine.errors import Rejected, Retryable
from warden.engine.ports import StopMode

CATEGORY = "linear"
PAGE, PAGES = 50, 20  # /v5/order/realtime: rows a page (its maximum), pages followed at most
PROBE = "BTCUSDT"  # a symbol whose position rows show the mode even with nothing open
# What to change on Bybit for one-way mode (v5/position/position-mode): per symbol, or per coin.
ONE_WAY = ('switch the symbols to one-way mode (Position Mode "One-Way", positionIdx 0: '
           "POST /v5/position/switch-mode mode=0 with coin=USDT or symbol=...)")


class BybitOps(VenueOps):
    order_origin = staticmethod(bybit_origin)

    async def fetch_positions(self) -> list[dict[str, Any]]:
        return await self.client.fetch_positions(None, {"settleCoin": "USDT"})

    async def fetch_trades(self, symbol: str, unified: str,
                           order_id: str | None) -> list[dict[str, Any]]:
        # ccxt's fetch_my_trades (and fetch_order_trades) always send execType=Trade, which hides
        # a liquidation (BustTrade) and auto-deleveraging (AdlTrade): ask without a type filter
        request = {"category": CATEGORY, "symbol": symbol}
        if order_id is not None:
            request["orderId"] = order_id
        response = await self.client.privateGetV5ExecutionList(request)
        items = (response.get("result") or {}).get("list") or []
        return [i for i in items if i.get("execType") != "Funding"]  # not a fill of an order

    async def all_trigger_orders(self) -> list[dict[str, Any]]:
        """Bybit pages ``/v5/order/realtime`` (at most 50 rows and a ``nextPageCursor``, which
        ccxt puts in the first raw row, so it is looked for in every row's ``info``): followed to
        the end. Asked without a symbol, ccxt sends the settle coin (USDT) the endpoint requires."""
        orders: list[dict[str, Any]] = []
        cursor = None
        for _ in range(PAGES):
            params: dict[str, Any] = {"trigger": True}
            if cursor:
                params["cursor"] = cursor
            page = await self.ex.call("fetch_open_orders(trigger)", False,
                                      self.client.fetch_open_orders, None, None, PAGE, params)
            orders += page
            cursor = next((o["info"]["nextPageCursor"] for o in page
                           if (o.get("info") or {}).get("nextPageCursor")), None)
            if not cursor or len(page) < PAGE:
                return orders
        raise Retryable(f"bybit: more than {PAGES * PAGE} open conditional orders; ask per symbol")

    async def position_mode(self, symbols: Sequence[str]) -> PositionModeReport:
        """Bybit keeps the mode per symbol: a position index of 1 or 2 in the open positions, or in
        the rows of ``symbols`` and of BTCUSDT (listed even when flat: the mode is most often
        switched for a whole coin), shows hedge mode. A symbol switched alone and not among them
        shows when warden trades it: the venue refuses the one-way order (10001). A symbol with an
        open position is not asked again: its row in the open positions shows its index."""
        rows = [p["info"] for p in await self.ex.call("fetch_positions", False, self.fetch_positions)]
        held = {str(r.get("symbol")) for r in rows}
        probes = [*symbols, *(s for s in (PROBE,) if s in self.client.markets_by_id)]
        for symbol in dict.fromkeys(s for s in probes if s not in held):
            response = await self.ex.call("position/list", False, self.client.privateGetV5PositionList,
                                          {"category": CATEGORY, "symbol": symbol})
            rows += (response.get("result") or {}).get("list") or []
        hedged = sorted({str(r.get("symbol")) for r in rows if str(r.get("positionIdx", "0")) != "0"})
        if hedged:
            return PositionModeReport(PositionMode.HEDGE, f"{', '.join(hedged)} positionIdx 1 and 2",
                                      ONE_WAY, raw={"list": rows})
        shown = ", ".join(sorted({str(r.get("symbol")) for r in rows})) or "no position"
        return PositionModeReport(PositionMode.ONE_WAY, f"{shown}: positionIdx 0", ONE_WAY,
                                  raw={"list": rows})

    async def query_order(self, symbol: str, order_id: str) -> OrderReport | None:
        return await self._find_order(symbol, {"orderId": order_id})

    async def order_by_client_id(self, symbol: str, unified: str,
                                 client_order_id: str) -> OrderReport | None:
        return await self._find_order(symbol, {"orderLinkId": client_order_id})

    async def _find_order(self, symbol: str, key: dict[str, str]) -> OrderReport | None:
        """Open and recent orders first, then history (a filled market order may be in either)."""
        request = {"category": CATEGORY, "symbol": symbol, **key}
        for operation, endpoint in (("order/realtime", self.client.privateGetV5OrderRealtime),
                                    ("order/history", self.client.privateGetV5OrderHistory)):
            response = await self.ex.call(operation, False, endpoint, request)
            items = (response.get("result") or {}).get("list") or []
            if items:
                return normalize.parse_order(self.venue, items[0])
        return None

    async def place_stop(self, symbol: str, unified: str, side: Side, qty: Decimal, price: Decimal,
                         mode: StopMode, client_order_id: str | None) -> StopReport:
        if mode is StopMode.CONDITIONAL:
            return await self.place_stop_order(symbol, unified, side, qty, price, client_order_id)
        response = await self._trading_stop(symbol, price)
        return StopReport(venue=self.venue, symbol=symbol, side=side, stop_price=price,
                          order_id=None, raw=response)

    async def move_stop(self, stop: StopReport, unified: str, qty: Decimal, new_price: Decimal,
                        client_order_id: str | None) -> StopReport:
        if stop.order_id is not None:
            return await self.replace_stop_order(stop, unified, qty, new_price, client_order_id)
        # the position's own stop moves in place: one request, never a moment without it
        try:
            response = await self._trading_stop(stop.symbol, new_price)
        except Rejected as exc:
            if not has_code(exc, self.venue, NOT_MODIFIED):
                raise
            response = {"retCode": exc.venue_code, "retMsg": exc.venue_message}
        return StopReport(venue=self.venue, symbol=stop.symbol, side=stop.side,
                          stop_price=new_price, order_id=None, raw=response)

    async def cancel_stop(self, stop: StopReport, unified: str) -> None:
        if stop.order_id is not None:
            await self.cancel_order(stop.order_id, unified, trigger=True)
            return
        try:
            await self._trading_stop(stop.symbol, Decimal(0))  # "0" removes the position's stop
        except Rejected as exc:
            if not has_code(exc, self.venue, NOT_MODIFIED):
                raise

    async def _trading_stop(self, symbol: str, price: Decimal) -> dict[str, Any]:
        request = {"category": CATEGORY, "symbol": symbol, "stopLoss": str(price),
                   "tpslMode": "Full", "slOrderType": "Market", "positionIdx": 0}
        return await self.ex.call("position/trading-stop", True,
                                  self.client.privatePostV5PositionTradingStop, request)
