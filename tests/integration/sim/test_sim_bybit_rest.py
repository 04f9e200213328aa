"""Unmodified sync ccxt against the simulator's Bybit v5 REST surface."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from warden.sim import make_exchange

BTC = "BTC/USDT:USDT"
SATS = "10000SATS/USDT:USDT"


def test_load_markets_exposes_tick_sizes_including_tiny_prices(bybit):
    assert bybit.market(BTC)["precision"]["price"] == pytest.approx(0.1)
    assert bybit.market(SATS)["precision"]["price"] == pytest.approx(0.0000001)
    assert bybit.market(SATS)["precision"]["amount"] == 100
    assert bybit.market(BTC)["limits"]["amount"]["min"] == pytest.approx(0.001)


def test_set_leverage_then_same_leverage_is_not_modified(bybit):
    bybit.set_leverage(5, BTC)
    with pytest.raises(ccxt.BadRequest, match="110043"):
        bybit.set_leverage(5, BTC)
    assert bybit.fetch_positions([BTC])[0]["leverage"] == 5


def test_fetch_balance_reports_the_configured_wallet(bybit):
    assert bybit.fetch_balance()["USDT"]["total"] == pytest.approx(10000)


def test_market_order_fill_price_is_recoverable_but_not_from_create(bybit, sim_thread):
    sim_thread.control.set_price("BTCUSDT", "60010.5")
    created = bybit.create_order(BTC, "market", "buy", 0.012)
    assert created["average"] is None            # Bybit's create answer has no fill data
    fetched = bybit.fetch_order(created["id"], BTC, {"acknowledged": True})
    assert (fetched["status"], fetched["average"], fetched["filled"]) == ("closed", 60010.5, 0.012)
    assert bybit.fetch_closed_order(created["id"], BTC)["average"] == 60010.5
    trades = bybit.fetch_my_trades(BTC)
    assert [(t["order"], t["price"], t["amount"]) for t in trades] == [
        (created["id"], 60010.5, 0.012)]
    assert trades[0]["fee"]["cost"] == pytest.approx(60010.5 * 0.012 * 0.00055)
    position = bybit.fetch_positions([BTC])[0]
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "long", 0.012, 60010.5)


def test_positions_net_with_average_entry_and_realized_pnl(bybit, sim_thread):
    bybit.create_order(BTC, "market", "buy", 0.01)
    sim_thread.control.set_price("BTCUSDT", "62000")
    bybit.create_order(BTC, "market", "buy", 0.01)
    assert bybit.fetch_positions([BTC])[0]["entryPrice"] == 61000
    sim_thread.control.set_price("BTCUSDT", "63000")
    bybit.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    info = bybit.fetch_positions([BTC])[0]["info"]
    fees = Decimal("60000") * Decimal("0.01") * Decimal("0.00055") + Decimal(
        "62000") * Decimal("0.01") * Decimal("0.00055") + Decimal("63000") * Decimal(
        "0.01") * Decimal("0.00055")
    assert Decimal(info["curRealisedPnl"]) == Decimal("20") - fees
    assert info["size"] == "0.01"


def test_trading_stop_closes_the_position_when_the_price_crosses_it(bybit, sim_thread):
    bybit.create_order(BTC, "market", "buy", 0.012)
    bybit.create_order(BTC, "market", "sell", 0.012, None, {
        "stopLossPrice": 58500, "tradingStopEndpoint": True, "positionIdx": 0})
    position = bybit.fetch_positions([BTC])[0]
    assert position["stopLossPrice"] == 58500
    with pytest.raises(ccxt.ExchangeError, match="34040"):
        bybit.create_order(BTC, "market", "sell", 0.012, None, {
            "stopLossPrice": 58500, "tradingStopEndpoint": True, "positionIdx": 0})
    sim_thread.control.set_price("BTCUSDT", "58600")
    assert bybit.fetch_positions([BTC])[0]["contracts"] == 0.012
    sim_thread.control.set_price("BTCUSDT", "58400")
    assert not bybit.fetch_positions([BTC])[0]["contracts"]
    closing = bybit.fetch_my_trades(BTC)[-1]
    assert (closing["side"], closing["price"]) == ("sell", 58400)


def test_trading_stop_zero_removes_the_stop(bybit, sim_thread):
    bybit.create_order(BTC, "market", "buy", 0.012)
    bybit.privatePostV5PositionTradingStop({"category": "linear", "symbol": "BTCUSDT",
                                            "stopLoss": "58500", "positionIdx": 0})
    bybit.privatePostV5PositionTradingStop({"category": "linear", "symbol": "BTCUSDT",
                                            "stopLoss": "0", "positionIdx": 0})
    sim_thread.control.set_price("BTCUSDT", "58000")
    assert bybit.fetch_positions([BTC])[0]["contracts"] == 0.012


def test_conditional_stop_is_listed_cancelled_and_triggers(bybit, sim_thread):
    bybit.create_order(BTC, "market", "buy", 0.012)
    first = bybit.create_order(BTC, "market", "sell", 0.012, None,
                               {"stopLossPrice": 58000.1, "reduceOnly": True})
    second = bybit.create_order(BTC, "market", "sell", 0.012, None,
                                {"stopLossPrice": 57000, "reduceOnly": True})
    open_stops = bybit.fetch_open_orders(BTC, params={"trigger": True})
    assert {(o["id"], o["triggerPrice"]) for o in open_stops} == {
        (first["id"], 58000.1), (second["id"], 57000)}
    bybit.cancel_order(first["id"], BTC)
    assert [o["id"] for o in bybit.fetch_open_orders(BTC, params={"trigger": True})] == [
        second["id"]]
    sim_thread.control.set_price("BTCUSDT", "56990")
    assert not bybit.fetch_positions([BTC])[0]["contracts"]
    fired = bybit.fetch_order(second["id"], BTC, {"acknowledged": True})
    assert (fired["status"], fired["average"]) == ("closed", 56990)
    with pytest.raises(ccxt.OrderNotFound):
        bybit.cancel_order(first["id"], BTC)


def test_stop_already_crossed_is_rejected(bybit):
    bybit.create_order(BTC, "market", "buy", 0.012)
    with pytest.raises(ccxt.BadRequest, match="expect Falling"):
        bybit.create_order(BTC, "market", "sell", 0.012, None,
                           {"stopLossPrice": 61000, "reduceOnly": True})
    with pytest.raises(ccxt.BadRequest, match="should lower than base_price"):
        bybit.create_order(BTC, "market", "sell", 0.012, None, {
            "stopLossPrice": 61000, "tradingStopEndpoint": True, "positionIdx": 0})


def test_reduce_only_without_a_position_is_rejected(bybit):
    with pytest.raises(ccxt.InvalidOrder, match="110017"):
        bybit.create_order(BTC, "market", "sell", 0.012, None, {"reduceOnly": True})
    assert bybit.fetch_positions([BTC])[0]["contracts"] in (0, None)


def test_stop_price_below_minimum_precision_gets_the_seed_error(bybit, sim_thread):
    bybit.create_order(SATS, "market", "buy", 30000)
    with pytest.raises(ccxt.BadRequest) as caught:
        bybit.privatePostV5PositionTradingStop({"category": "linear", "symbol": "10000SATSUSDT",
                                                "stopLoss": "0.00000001", "positionIdx": 0})
    assert '"retCode":10001' in str(caught.value)
    assert "price must be greater than minimum price precision" in str(caught.value)
    record = sim_thread.control.requests("bybit", "/v5/position/trading-stop")[-1]
    assert (record["params"]["stopLoss"], record["code"]) == ("0.00000001", 10001)


def test_duplicate_order_link_id_is_rejected(bybit):
    bybit.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "sig-1"})
    with pytest.raises(ccxt.ExchangeError, match="110072"):
        bybit.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "sig-1"})
    assert bybit.fetch_positions([BTC])[0]["contracts"] == 0.001


@pytest.mark.parametrize(("key", "secret", "code"), [
    ("bybit-key", "wrong-secret", "10004"), ("unknown-key", "bybit-secret", "10003")])
def test_bad_credentials_are_rejected(sim_thread, key, secret, code):
    exchange = make_exchange(ccxt, "bybit", sim_thread, api_key=key, secret=secret)
    exchange.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match=code):
        exchange.fetch_balance()
    assert sim_thread.control.requests("bybit", "wallet-balance")[-1]["code"] == int(code)


def test_stale_timestamp_is_rejected_with_10002(sim_thread):
    exchange = make_exchange(ccxt, "bybit", sim_thread)
    exchange.load_markets()
    exchange.nonce = lambda: exchange.milliseconds() - 60_000
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        exchange.fetch_balance()


def test_phantom_position_opened_from_outside_is_visible(bybit, sim_thread):
    sim_thread.control.open_position("bybit", "BTCUSDT", "buy", "0.5")
    positions = bybit.fetch_positions()
    assert [(p["symbol"], p["contracts"]) for p in positions] == [(BTC, 0.5)]
    sim_thread.control.close_position("bybit", "BTCUSDT")
    assert bybit.fetch_positions() == []


def test_trailing_stop_via_trading_stop_ratchets_then_closes(bybit, sim_thread):
    bybit.create_order(BTC, "market", "buy", 0.012)
    bybit.create_order(BTC, "market", "sell", 0.012, None,
                       {"trailingAmount": 500, "trailingTriggerPrice": 61000})
    sent = sim_thread.control.requests("bybit", "trading-stop")[-1]["params"]
    assert (sent["trailingStop"], sent["activePrice"]) == ("500", "61000")
    for price in ("61000", "61800", "61500"):
        sim_thread.control.set_price("BTCUSDT", price)
    assert bybit.fetch_positions([BTC])[0]["stopLossPrice"] == 61300
    sim_thread.control.set_price("BTCUSDT", "61290")
    assert not bybit.fetch_positions([BTC])[0]["contracts"]
