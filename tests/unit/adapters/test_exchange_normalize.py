"""Venue payloads (raw and ccxt-unified) become reports with Decimal prices and never a 0 price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from warden.adapters.exchange.normalize import (
    dec,
    parse_fill,
    parse_instrument,
    parse_order,
    parse_position,
    vwap,
)
from warden.domain.values import OrderSide, OrderStatus, ReportSource, Side

BYBIT_ORDER = {"orderId": "o1", "orderLinkId": "c1", "symbol": "BTCUSDT", "side": "Buy",
               "orderType": "Market", "price": "0", "qty": "0.012", "orderStatus": "Filled",
               "avgPrice": "60010.5", "cumExecQty": "0.012", "reduceOnly": False,
               "triggerPrice": "", "updatedTime": "1700000000000"}
BINANCE_WS_ORDER = {"s": "BTCUSDT", "c": "x-1", "S": "SELL", "o": "MARKET", "q": "0.01", "p": "0",
                    "ap": "60010.5", "sp": "0", "x": "TRADE", "X": "PARTIALLY_FILLED", "i": 1001,
                    "l": "0.004", "z": "0.004", "L": "60010.5", "N": "USDT", "n": "0.30",
                    "T": 1700000000000, "t": 7, "R": True}


def test_a_bybit_order_reads_the_average_not_the_slippage_cap() -> None:
    report = parse_order("bybit", {"info": BYBIT_ORDER, "price": 61000.0, "average": None})
    assert report.average_price == Decimal("60010.5")
    assert report.status is OrderStatus.FILLED
    assert (report.order_id, report.client_order_id, report.qty) == ("o1", "c1", Decimal("0.012"))
    assert report.trigger_price is None


def test_a_zero_average_price_is_unknown_not_zero() -> None:
    report = parse_order("bybit", {**BYBIT_ORDER, "avgPrice": "0", "orderStatus": "New",
                                   "cumExecQty": "0"})
    assert report.average_price is None
    assert report.status is OrderStatus.NEW


def test_a_binance_user_data_order_uses_its_short_keys() -> None:
    report = parse_order("binanceusdm", {"info": BINANCE_WS_ORDER})
    assert report.status is OrderStatus.PARTIALLY_FILLED
    assert report.side is OrderSide.SELL
    assert (report.filled_qty, report.average_price) == (Decimal("0.004"), Decimal("60010.5"))
    assert report.reduce_only is True
    assert report.trigger_price is None  # "sp": "0" is no trigger


def test_a_binance_algo_stop_reads_trigger_and_close_position() -> None:
    algo = {"algoId": 1002, "clientAlgoId": "x-2", "symbol": "BTCUSDT", "side": "SELL",
            "quantity": "0", "algoStatus": "NEW", "triggerPrice": "58000.1", "reduceOnly": False,
            "closePosition": True}
    report = parse_order("binanceusdm", algo)
    assert (report.order_id, report.trigger_price, report.reduce_only) == ("1002", Decimal("58000.1"), True)


def test_a_binance_user_data_fill_uses_the_last_price_and_quantity() -> None:
    fill = parse_fill("binanceusdm", {"info": BINANCE_WS_ORDER})
    assert (fill.price, fill.qty, fill.fee, fill.fee_currency) == (
        Decimal("60010.5"), Decimal("0.004"), Decimal("0.30"), "USDT")
    assert (fill.trade_id, fill.order_id) == ("7", "1001")


def test_a_fill_without_a_price_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_fill("bybit", {"execId": "e", "orderId": "o", "symbol": "BTCUSDT", "side": "Buy",
                             "execPrice": "0", "execQty": "0.01"})


def test_a_closed_bybit_position_is_flat_without_side_or_entry() -> None:
    closed = {"symbol": "BTCUSDT", "side": "", "size": "0", "avgPrice": "0", "markPrice": "60000",
              "stopLoss": "", "updatedTime": "1700000000000"}
    report = parse_position("bybit", "acc", closed, ReportSource.WEBSOCKET)
    assert report.is_flat and report.side is None and report.entry_price is None


def test_a_binance_one_way_short_is_read_from_the_sign() -> None:
    risk = {"symbol": "ETHUSDT", "positionSide": "BOTH", "positionAmt": "-0.500",
            "entryPrice": "3000.5", "markPrice": "2990", "liquidationPrice": "0", "updateTime": 1}
    report = parse_position("binanceusdm", "acc", {"info": risk, "side": "short"}, ReportSource.REST)
    assert (report.side, report.size, report.entry_price) == (Side.SHORT, Decimal("0.500"), Decimal("3000.5"))
    assert report.liquidation_price is None


def test_a_bybit_position_keeps_its_stop_loss() -> None:
    pos = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.012", "avgPrice": "60010.5",
           "markPrice": "60000.1", "stopLoss": "58500", "liqPrice": "54000.5", "updatedTime": "1"}
    report = parse_position("bybit", "acc", pos, ReportSource.REST)
    assert (report.side, report.stop_loss, report.liquidation_price) == (
        Side.LONG, Decimal("58500"), Decimal("54000.5"))


def test_vwap_weights_prices_by_quantity() -> None:
    fills = [parse_fill("bybit", {"execId": str(i), "orderId": "o", "symbol": "BTCUSDT", "side": "Buy",
                                  "execPrice": p, "execQty": q, "execFee": "0.1"})
             for i, (p, q) in enumerate([("100", "1"), ("110", "3")])]
    assert vwap(fills) == (Decimal("107.5"), Decimal("4"), Decimal("0.2"))
    assert vwap([]) is None


def test_an_instrument_comes_from_the_market_precision_and_limits() -> None:
    market = {"id": "BTCUSDT", "precision": {"price": 0.1, "amount": 0.001},
              "limits": {"amount": {"min": 0.001}, "price": {"min": 0.1}, "cost": {"min": 5.0}}}
    inst = parse_instrument(market)
    assert (inst.tick_size, inst.qty_step) == (Decimal("0.1"), Decimal("0.001"))
    assert inst.min_notional == Decimal("5.0")


def test_dec_refuses_garbage_and_non_finite() -> None:
    assert [dec(x) for x in (None, "", "abc", "NaN", True, 1.5)] == [None] * 5 + [Decimal("1.5")]
