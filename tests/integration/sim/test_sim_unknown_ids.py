"""An order id that names nothing finds nothing, on every lookup path of both venues: never "no
filter" (which used to hand back another order, e.g. the position's stop)."""

from __future__ import annotations

import ccxt
import pytest

from .conftest import BTC

UNKNOWN_UUID = "00000000-0000-0000-0000-00000000ffff"


@pytest.fixture
async def busy_bybit(abybit):
    """An account with a filled order, a conditional stop and a position stop to be confused with."""
    await abybit.create_order(BTC, "market", "buy", 0.02)
    await abybit.create_order(BTC, "market", "sell", 0.01, None,
                              {"stopLossPrice": 58000, "reduceOnly": True})
    await abybit.create_order(BTC, "market", "sell", 0.02, None, {
        "stopLossPrice": 57000, "tradingStopEndpoint": True, "positionIdx": 0})
    await abybit.create_order(BTC, "limit", "sell", 0.01, 62000, {"reduceOnly": True})
    return abybit


@pytest.fixture
async def busy_binance(abinance):
    await abinance.create_order(BTC, "market", "buy", 0.02)
    await abinance.create_order(BTC, "market", "sell", None, None,
                                {"stopLossPrice": 58000, "closePosition": True})
    await abinance.create_order(BTC, "limit", "sell", 0.01, 62000, {"reduceOnly": True})
    return abinance


@pytest.mark.parametrize("order_id", [UNKNOWN_UUID, "does-not-exist", "1001"])
async def test_bybit_finds_nothing_for_an_id_that_is_not_an_order(busy_bybit, order_id):
    ex = busy_bybit
    before = await ex.fetch_open_orders(BTC)        # the limit, the stop and the position stop
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order(order_id, BTC, {"acknowledged": True})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order(order_id, BTC, {"acknowledged": True, "trigger": True})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_open_order(order_id, BTC)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_closed_order(order_id, BTC)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(order_id, BTC)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.edit_order(order_id, BTC, "limit", "sell", 0.01, 61000)
    assert await ex.fetch_order_trades(order_id, BTC) == []
    raw = await ex.privateGetV5OrderHistory({"category": "linear", "orderId": order_id})
    assert raw["result"]["list"] == []
    assert len(before) == 3 and await ex.fetch_open_orders(BTC) == before   # nothing touched


@pytest.mark.parametrize("trigger", [False, True])
async def test_binance_unknown_numeric_ids_are_not_found(busy_binance, trigger):
    ex, params = busy_binance, {"trigger": True} if trigger else {}
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("999999", BTC, params)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("999999", BTC, params)
    if not trigger:
        with pytest.raises(ccxt.OrderNotFound):
            await ex.edit_order("999999", BTC, "limit", "sell", 0.01, 61000)
        assert await ex.fetch_my_trades(BTC, params={"orderId": "999999"}) == []
    assert len(await ex.fetch_open_orders(BTC, params=params)) == 1


async def test_binance_malformed_ids_get_the_venues_1100(busy_binance):
    """Binance validates a LONG parameter before looking anything up: -1100, not -2013."""
    ex = busy_binance
    for call in (ex.fetch_order("does-not-exist", BTC),
                 ex.fetch_order("does-not-exist", BTC, {"trigger": True}),
                 ex.cancel_order("does-not-exist", BTC),
                 ex.fetch_my_trades(BTC, params={"orderId": "does-not-exist"})):
        with pytest.raises(ccxt.BadRequest, match="-1100"):
            await call
    assert len(await ex.fetch_open_orders(BTC)) == 1
