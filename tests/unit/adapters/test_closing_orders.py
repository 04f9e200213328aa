"""What the venues' own order fields say closed a position (Bybit v5 enums, Binance client ids)."""

from __future__ import annotations

import pytest

from warden.adapters.exchange.closing_orders import binance_origin, bybit_origin
from warden.domain.values import OrderOrigin


@pytest.mark.parametrize(("order", "fill", "origin", "word"), [
    ({"createType": "CreateByUser", "orderType": "Market", "stopOrderType": ""},
     {"execType": "Trade"}, OrderOrigin.ORDER, "Market"),
    ({"createType": "CreateByStopLoss", "stopOrderType": "StopLoss", "triggerPrice": "58800"},
     {"execType": "Trade", "stopOrderType": "StopLoss"}, OrderOrigin.POSITION_STOP, "StopLoss"),
    ({"createType": "CreateByTrailingStop", "stopOrderType": "TrailingStop"},
     {"execType": "Trade"}, OrderOrigin.POSITION_STOP, "TrailingStop"),
    ({"createType": "CreateByStopOrder", "stopOrderType": "Stop", "triggerPrice": "58800"},
     {"execType": "Trade", "stopOrderType": "Stop"}, OrderOrigin.STOP, "Stop"),
    ({"createType": "CreateByTakeOver_PassThrough", "orderType": "Market"},
     {"execType": "BustTrade"}, OrderOrigin.LIQUIDATION, "CreateByTakeOver_PassThrough"),
    ({}, {"execType": "BustTrade"}, OrderOrigin.LIQUIDATION, "BustTrade"),  # order query failed
    ({"createType": "CreateByLiq"}, {"execType": "Trade"}, OrderOrigin.LIQUIDATION, "CreateByLiq"),
    ({"createType": "CreateByAdl_PassThrough"}, {"execType": "AdlTrade"}, OrderOrigin.VENUE,
     "CreateByAdl_PassThrough"),
])
def test_bybit_says_what_an_order_was(order, fill, origin, word):
    assert bybit_origin(order, fill) == (origin, word)


@pytest.mark.parametrize(("order", "origin", "word"), [
    ({"clientOrderId": "web_Xk2p", "type": "MARKET", "origType": "MARKET"}, OrderOrigin.ORDER, "MARKET"),
    ({"clientOrderId": "", "type": "MARKET", "origType": "STOP_MARKET", "stopPrice": "58800"},
     OrderOrigin.STOP, "STOP_MARKET"),
    ({"clientOrderId": "autoclose-1690000000000", "type": "MARKET", "origType": "MARKET"},
     OrderOrigin.LIQUIDATION, "autoclose"),
    ({"clientOrderId": "x", "type": "LIQUIDATION", "origType": "LIQUIDATION"},
     OrderOrigin.LIQUIDATION, "LIQUIDATION"),
    ({"clientOrderId": "adl_autoclose", "type": "MARKET"}, OrderOrigin.VENUE, "adl_autoclose"),
])
def test_binance_says_what_an_order_was(order, origin, word):
    assert binance_origin(order, {}) == (origin, word)
