"""Binance USD-M specifics: order lookups and the algo ``STOP_MARKET`` reduce-only quantity stop.

Since 2025-12-09 Binance takes conditional orders only on ``/fapi/v1/algoOrder`` (ccxt routes a
``stopLossPrice`` there, and a ``clientOrderId`` as ``clientAlgoId``); they are cancelled with
``{'trigger': True}``. warden's stop is a ``STOP_MARKET`` with ``quantity`` and ``reduceOnly``, not
``closePosition=true``: Binance allows one closePosition stop per side (-4130), which would force a
move to cancel the old stop before placing the new one and leave the position bare in between.
Several reduce-only stops may coexist, so a move places the new one first. The price of that
choice: the stop's quantity must follow the position's (a scale-in resizes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from warden.adapters.exchange import normalize
from warden.adapters.exchange.closing_orders import binance_origin
from warden.adapters.exchange.errors import ORDER_NOT_FOUND, has_code
from warden.adapters.exchange.venue_ops import VenueOps
from warden.domain.reports import OrderReport, PositionModeReport, StopReport
from warden.domain.values import PositionMode, Side
from warden.engine.errors import Rejected
from warden.engine.ports import StopMode

# What to change on Binance for one-way mode (account/rest-api/Get-Current-Position-Mode).
ONE_WAY = ('set dualSidePosition to false (Position Mode "One-way": '
           "POST /fapi/v1/positionSide/dual dualSidePosition=false)")


class BinanceOps(VenueOps):
    trigger_params = {"trigger": True}
    order_origin = staticmethod(binance_origin)

    async def position_mode(self, symbols: Sequence[str]) -> PositionModeReport:
        """One setting for the whole USD-M account (``symbols`` do not matter)."""
        answer = await self.ex.call("fetch_position_mode", False, self.client.fetch_position_mode)
        info = answer.get("info") or {}
        dual = answer.get("hedged") is True
        return PositionModeReport(PositionMode.HEDGE if dual else PositionMode.ONE_WAY,
                                  f"dualSidePosition {str(dual).lower()}", ONE_WAY, raw=dict(info))

    async def fetch_positions(self) -> list[dict[str, Any]]:
        return await self.client.fetch_positions()

    async def fetch_trades(self, symbol: str, unified: str,
                           order_id: str | None) -> list[dict[str, Any]]:
        # ccxt's fetch_order_trades is spot-only on Binance; userTrades takes an orderId itself.
        params = {} if order_id is None else {"orderId": order_id}
        return await self.client.fetch_my_trades(unified, None, None, params)

    async def query_order(self, symbol: str, order_id: str) -> OrderReport | None:
        unified = await self.ex.unified(symbol)
        return await self._fetch_order(order_id, unified, {})

    async def order_by_client_id(self, symbol: str, unified: str,
                                 client_order_id: str) -> OrderReport | None:
        return await self._fetch_order(None, unified, {"origClientOrderId": client_order_id})

    async def _fetch_order(self, order_id: str | None, unified: str,
                           params: dict[str, Any]) -> OrderReport | None:
        try:
            order = await self.ex.call("fetch_order", False, self.client.fetch_order, order_id,
                                       unified, params)
        except Rejected as exc:
            if has_code(exc, self.venue, ORDER_NOT_FOUND):
                return None
            raise
        return normalize.parse_order(self.venue, order)

    async def place_stop(self, symbol: str, unified: str, side: Side, qty: Decimal, price: Decimal,
                         mode: StopMode, client_order_id: str | None) -> StopReport:
        return await self.place_stop_order(symbol, unified, side, qty, price, client_order_id)

    async def move_stop(self, stop: StopReport, unified: str, qty: Decimal, new_price: Decimal,
                        client_order_id: str | None) -> StopReport:
        return await self.replace_stop_order(stop, unified, qty, new_price, client_order_id)

    async def cancel_stop(self, stop: StopReport, unified: str) -> None:
        if stop.order_id is not None:
            await self.cancel_order(stop.order_id, unified, trigger=True)
