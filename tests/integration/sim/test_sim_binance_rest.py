"""Unmodified async ccxt against the simulator's Binance USD-M REST surface."""

from __future__ import annotations

import ccxt
import ccxt.async_support
import pytest

from warden.sim import make_exchange

BTC = "BTC/USDT:USDT"
SHIB = "SHIB1000/USDT:USDT"


async def test_load_markets_and_leverage_and_balance(abinance):
    assert abinance.market(SHIB)["precision"]["price"] == pytest.approx(0.000001)
    assert (await abinance.set_leverage(7, BTC))["leverage"] == 7
    balance = await abinance.fetch_balance()
    assert (balance["USDT"]["free"], balance["USDT"]["total"]) == (10000, 10000)


async def test_market_order_result_carries_the_fill(abinance, sim):
    sim.control.set_price("BTCUSDT", "60010.5")
    order = await abinance.create_order(BTC, "market", "buy", 0.012)
    assert (order["status"], order["average"], order["filled"]) == ("closed", 60010.5, 0.012)
    sent = sim.control.requests("binance", "/fapi/v1/order")[-1]["params"]
    assert sent["newOrderRespType"] == "RESULT"
    fetched = await abinance.fetch_order(order["id"], BTC)
    assert fetched["average"] == 60010.5
    trades = await abinance.fetch_my_trades(BTC)
    assert [(t["order"], t["price"], t["amount"]) for t in trades] == [(order["id"], 60010.5, 0.012)]
    positions = await abinance.fetch_positions()
    assert [(p["symbol"], p["side"], p["contracts"], p["entryPrice"]) for p in positions] == [
        (BTC, "long", 0.012, 60010.5)]


async def test_algo_close_position_stop_triggers_on_a_price_move(abinance, sim):
    await abinance.create_order(BTC, "market", "buy", 0.012)
    stop = await abinance.create_order(BTC, "market", "sell", None, None,
                                       {"stopLossPrice": 58000, "closePosition": True})
    sent = sim.control.requests("binance", "/fapi/v1/algoOrder")[-1]["params"]
    assert (sent["type"], sent["closePosition"], sent["algoType"]) == (
        "STOP_MARKET", "true", "CONDITIONAL")
    listed = await abinance.fetch_open_orders(BTC, params={"trigger": True})
    assert [(o["id"], o["triggerPrice"]) for o in listed] == [(stop["id"], 58000)]
    sim.control.set_price("BTCUSDT", "57950")
    assert await abinance.fetch_positions() == []
    fired = await abinance.fetch_order(stop["id"], BTC, {"trigger": True})
    assert fired["status"] == "closed"
    closing = (await abinance.fetch_my_trades(BTC))[-1]
    assert (closing["side"], closing["price"], closing["amount"]) == ("sell", 57950, 0.012)


async def test_algo_stop_cancel_and_plain_cancel_of_algo_id(abinance):
    await abinance.create_order(BTC, "market", "buy", 0.012)
    stop = await abinance.create_order(BTC, "market", "sell", 0.012, None,
                                       {"stopLossPrice": 58000, "reduceOnly": True})
    with pytest.raises(ccxt.OrderNotFound):
        await abinance.cancel_order(stop["id"], BTC)          # an algo id needs trigger=True
    await abinance.cancel_order(stop["id"], BTC, {"trigger": True})
    assert await abinance.fetch_open_orders(BTC, params={"trigger": True}) == []


async def test_stop_type_on_the_order_endpoint_is_refused_with_4120(abinance):
    with pytest.raises(ccxt.ExchangeError, match="-4120"):
        await abinance.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "SELL",
                                             "type": "STOP_MARKET", "stopPrice": "58000",
                                             "closePosition": "true"})


async def test_reduce_only_without_position_is_rejected(abinance):
    with pytest.raises(ccxt.ExchangeError, match="-2022"):
        await abinance.create_order(BTC, "market", "sell", 0.012, None, {"reduceOnly": True})


async def test_stop_past_the_price_would_immediately_trigger(abinance):
    await abinance.create_order(BTC, "market", "buy", 0.012)
    with pytest.raises(ccxt.ExchangeError, match="-2021"):
        await abinance.create_order(BTC, "market", "sell", None, None,
                                    {"stopLossPrice": 61000, "closePosition": True})


@pytest.mark.parametrize(("trigger", "code"), [("58000.15", "-1111"), ("0.05", "-4013")])
async def test_precision_rejections_use_binance_codes(abinance, trigger, code):
    await abinance.create_order(BTC, "market", "buy", 0.012)
    with pytest.raises(ccxt.ExchangeError, match=code):
        await abinance.fapiPrivatePostAlgoOrder({
            "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "algoType": "CONDITIONAL",
            "triggerPrice": trigger, "closePosition": "true"})


async def test_qty_not_on_step_is_rejected(abinance):
    with pytest.raises(ccxt.ExchangeError, match="-4023"):
        await abinance.fapiPrivatePostOrder({"symbol": "SHIB1000USDT", "side": "BUY",
                                             "type": "MARKET", "quantity": "1005"})


async def test_duplicate_client_order_id_is_rejected(abinance):
    await abinance.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "sig-1"})
    with pytest.raises(ccxt.ExchangeError, match="-4116"):
        await abinance.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "sig-1"})


@pytest.mark.parametrize(("key", "secret", "error", "code"), [
    ("binance-key", "wrong", ccxt.AuthenticationError, -1022),
    ("nobody", "binance-secret", ccxt.AuthenticationError, -2015)])
async def test_bad_credentials_are_rejected(sim, key, secret, error, code):
    exchange = make_exchange(ccxt.async_support, "binance", sim, api_key=key, secret=secret)
    try:
        await exchange.load_markets()
        with pytest.raises(error):
            await exchange.fetch_balance()
    finally:
        await exchange.close()
    assert sim.control.requests("binance", "/account")[-1]["code"] == code


async def test_old_timestamp_is_rejected_with_1021(abinance, sim):
    abinance.nonce = lambda: abinance.milliseconds() - 30_000
    with pytest.raises(ccxt.InvalidNonce):
        await abinance.fetch_balance()
    assert sim.control.requests("binance", "/account")[-1]["code"] == -1021
