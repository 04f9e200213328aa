"""Resting limit orders on both venues through unmodified async ccxt: GTC/IOC/post-only/reduce-only,
maker fills at the limit price when the mark crosses, amend, cancel, cancel-all and the venues'
price and quantity filters."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import pytest

from .conftest import BTC, eventually, private_topics, subscribed, venue_of

SHIB = "SHIB1000/USDT:USDT"


async def test_a_limit_order_rests_then_fills_at_its_price_with_the_maker_fee(aex, sim):
    order = await aex.create_order(BTC, "limit", "buy", 0.01, 59000)
    listed = await aex.fetch_open_orders(BTC)
    assert [(o["id"], o["type"], o["price"], o["status"]) for o in listed] == [
        (order["id"], "limit", 59000, "open")]
    sim.control.set_price("BTCUSDT", "59100")
    assert await aex.fetch_my_trades(BTC) == []            # not crossed yet
    sim.control.set_price("BTCUSDT", "58800")              # gaps through the limit
    trade, = await aex.fetch_my_trades(BTC)
    assert (trade["order"], trade["price"], trade["amount"], trade["takerOrMaker"]) == (
        order["id"], 59000, 0.01, "maker")
    assert trade["fee"]["cost"] == pytest.approx(59000 * 0.01 * 0.0002)
    assert await aex.fetch_open_orders(BTC) == []
    position, = [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    assert (position["side"], position["entryPrice"]) == ("long", 59000)


async def test_a_marketable_limit_order_takes_at_once_at_the_book_price(aex, sim):
    sim.control.set_book(spread_bps="2")                   # bid 59994, ask 60006
    order = await aex.create_order(BTC, "limit", "buy", 0.01, 60100)
    trade, = await aex.fetch_my_trades(BTC)
    assert (trade["order"], trade["price"], trade["takerOrMaker"]) == (order["id"], 60006, "taker")


async def test_post_only_that_would_take_is_refused_as_the_venue_does(aex, sim):
    if venue_of(aex) == "binance":
        with pytest.raises(ccxt.InvalidOrder, match="-5022"):
            await aex.create_order(BTC, "limit", "buy", 0.01, 60000, {"postOnly": True})
        assert sim.control.state("binance")["orders"] == []       # not recorded
    else:
        order = await aex.create_order(BTC, "limit", "buy", 0.01, 60000, {"postOnly": True})
        seen = await aex.fetch_order(order["id"], BTC, {"acknowledged": True})
        assert (seen["status"], seen["info"]["rejectReason"]) == (
            "canceled", "EC_PostOnlyWillTakeLiquidity")
    assert await aex.fetch_my_trades(BTC) == []
    resting = await aex.create_order(BTC, "limit", "buy", 0.01, 59990, {"postOnly": True})
    assert [o["id"] for o in await aex.fetch_open_orders(BTC)] == [resting["id"]]


async def test_ioc_that_cannot_take_ends_at_once(aex, sim):
    await aex.create_order(BTC, "limit", "buy", 0.01, 59000, {"timeInForce": "IOC"})
    assert await aex.fetch_open_orders(BTC) == []
    state, = sim.control.state(venue_of(aex))["orders"]
    assert (state["type"], state["status"], state["closure"]) == ("limit", "cancelled",
                                                                  "unfilled")
    sim.control.set_price("BTCUSDT", "58000")
    assert await aex.fetch_my_trades(BTC) == []


async def test_reduce_only_limit_needs_a_position_and_expires_with_it(aex, sim):
    with pytest.raises(ccxt.ExchangeError, match=r"110017|-2022"):
        await aex.create_order(BTC, "limit", "sell", 0.01, 61000, {"reduceOnly": True})
    await aex.create_order(BTC, "market", "buy", 0.01)
    exit_order = await aex.create_order(BTC, "limit", "sell", 0.01, 61000, {"reduceOnly": True})
    assert [o["id"] for o in await aex.fetch_open_orders(BTC)] == [exit_order["id"]]
    await aex.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert await aex.fetch_open_orders(BTC) == []
    sim.control.set_price("BTCUSDT", "61500")
    assert not [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]


async def test_a_reduce_only_exit_fills_when_the_mark_reaches_it(aex, sim):
    await aex.create_order(BTC, "market", "buy", 0.02)
    await aex.create_order(BTC, "limit", "sell", 0.02, 61000, {"reduceOnly": True})
    sim.control.set_price("BTCUSDT", "61000")
    assert not [p for p in await aex.fetch_positions([BTC]) if p["contracts"]]
    closing = (await aex.fetch_my_trades(BTC))[-1]
    assert (closing["side"], closing["price"], closing["takerOrMaker"]) == ("sell", 61000,
                                                                             "maker")


async def test_amend_moves_the_resting_order_in_place(aex, sim):
    order = await aex.create_order(BTC, "limit", "sell", 0.01, 61000)
    await aex.edit_order(order["id"], BTC, "limit", "sell", 0.02, 60500)
    listed, = await aex.fetch_open_orders(BTC)
    assert (listed["id"], listed["price"], listed["amount"]) == (order["id"], 60500, 0.02)
    sim.control.set_price("BTCUSDT", "60600")
    trade, = await aex.fetch_my_trades(BTC)
    assert (trade["order"], trade["price"], trade["amount"]) == (order["id"], 60500, 0.02)


async def test_amend_that_changes_nothing_is_refused(aex):
    order = await aex.create_order(BTC, "limit", "sell", 0.01, 61000)
    code = "10001" if venue_of(aex) == "bybit" else "-5027"
    with pytest.raises(ccxt.ExchangeError, match=code):
        await aex.edit_order(order["id"], BTC, "limit", "sell", 0.01, 61000)


async def test_amend_of_a_filled_order_is_not_found(aex):
    order = await aex.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.OrderNotFound):
        await aex.edit_order(order["id"], BTC, "limit", "buy", 0.01, 59000)


async def test_cancel_and_cancel_all_take_resting_orders_off_the_book(aex, sim):
    first = await aex.create_order(BTC, "limit", "buy", 0.01, 59000)
    await aex.create_order(BTC, "limit", "buy", 0.01, 58000)
    await aex.create_order("ETH/USDT:USDT", "limit", "buy", 0.1, 2900)
    await aex.cancel_order(first["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound):
        await aex.cancel_order(first["id"], BTC)
    await aex.cancel_all_orders(BTC)
    assert await aex.fetch_open_orders(BTC) == []
    assert len(await aex.fetch_open_orders("ETH/USDT:USDT")) == 1
    sim.control.set_price("BTCUSDT", "57000")
    assert await aex.fetch_my_trades(BTC) == []


async def test_binance_cancel_all_of_conditional_orders_uses_algo_open_orders(abinance, sim):
    await abinance.create_order(BTC, "market", "buy", 0.03)
    for price in (58000, 57000):
        await abinance.create_order(BTC, "market", "sell", 0.01, None,
                                    {"stopLossPrice": price, "reduceOnly": True})
    resting = await abinance.create_order(BTC, "limit", "sell", 0.01, 62000,
                                          {"reduceOnly": True})
    await abinance.cancel_all_orders(BTC, {"trigger": True})
    assert sim.control.requests("binance", "/fapi/v1/algoOpenOrders")[-1]["status"] == 200
    assert await abinance.fetch_open_orders(BTC, params={"trigger": True}) == []
    assert [o["id"] for o in await abinance.fetch_open_orders(BTC)] == [resting["id"]]


async def test_bybit_cancel_all_with_stop_filter_leaves_plain_orders(abybit):
    await abybit.create_order(BTC, "market", "buy", 0.02)
    await abybit.create_order(BTC, "market", "sell", 0.01, None,
                              {"stopLossPrice": 58000, "reduceOnly": True})
    resting = await abybit.create_order(BTC, "limit", "sell", 0.01, 62000)
    cancelled = await abybit.cancel_all_orders(BTC, {"trigger": True})
    assert len(cancelled) == 1
    assert await abybit.fetch_open_orders(BTC, params={"trigger": True}) == []
    assert [o["id"] for o in await abybit.fetch_open_orders(BTC)] == [resting["id"]]


# -- filters, checked as the venue does: the raw endpoints, since ccxt rounds before sending -----
def _bybit_limit(price: str, qty: str, symbol: str = "BTCUSDT") -> dict[str, str]:
    return {"category": "linear", "symbol": symbol, "side": "Buy", "orderType": "Limit",
            "qty": qty, "price": price}


def _binance_limit(price: str, qty: str, symbol: str = "BTCUSDT") -> dict[str, str]:
    return {"symbol": symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": qty, "price": price}


@pytest.mark.parametrize(("price", "qty", "bybit_code", "binance_code"), [
    ("59000.05", "0.01", "10001", "-1111"),        # more decimals than the tick
    ("59000", "0.0105", "10001", "-1111"),         # more decimals than the step
    ("59000", "0.0001", "10001", "-4003"),         # below the minimum quantity
    ("100", "0.01", "110094", "-4164"),            # 1 USDT notional, minimum 5
])
async def test_limit_filters_are_checked_as_the_venue_does(aex, price, qty, bybit_code,
                                                           binance_code):
    if venue_of(aex) == "bybit":
        with pytest.raises(ccxt.ExchangeError, match=bybit_code):
            await aex.privatePostV5OrderCreate(_bybit_limit(price, qty))
    else:
        with pytest.raises(ccxt.ExchangeError, match=binance_code):
            await aex.fapiPrivatePostOrder(_binance_limit(price, qty))


async def test_binance_limit_price_far_from_the_mark_breaks_the_percent_price_filter(abinance):
    with pytest.raises(ccxt.ExchangeError, match="-4016"):
        await abinance.create_order(BTC, "limit", "buy", 0.01, 63500)     # > mark * 1.05
    with pytest.raises(ccxt.ExchangeError, match="-4024"):
        await abinance.create_order(BTC, "limit", "sell", 0.01, 56000)    # < mark * 0.95
    assert (await abinance.create_order(BTC, "limit", "sell", 0.01, 62900))["status"] == "open"


async def test_limit_order_needs_a_price_and_binance_a_time_in_force(aex):
    if venue_of(aex) == "bybit":
        body = _bybit_limit("59000", "0.01")
        del body["price"]
        with pytest.raises(ccxt.BadRequest, match="price"):
            await aex.privatePostV5OrderCreate(body)
    else:
        body = _binance_limit("59000", "0.01")
        del body["timeInForce"]
        with pytest.raises(ccxt.BadRequest, match="timeInForce"):
            await aex.fapiPrivatePostOrder(body)


async def test_fill_prices_stay_decimal_exact(aex, sim):
    await aex.create_order(SHIB, "limit", "buy", 1000, 0.012339)
    sim.control.set_price("SHIB1000USDT", "0.012301")
    fill, = sim.control.state(venue_of(aex))["fills"]
    assert Decimal(fill["price"]) == Decimal("0.012339") and fill["maker"] is True


async def test_a_resting_order_is_pushed_when_placed_amended_and_filled(pro, sim):
    exchange = pro
    orders = asyncio.ensure_future(exchange.watch_orders(BTC))
    await subscribed(sim, venue_of(exchange), *private_topics(exchange, "order"))
    order = await exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    placed = (await asyncio.wait_for(orders, 3))[-1]
    assert (placed["id"], placed["status"], placed["price"]) == (order["id"], "open", 59000)
    await exchange.edit_order(order["id"], BTC, "limit", "buy", 0.01, 59500)
    sim.control.set_price("BTCUSDT", "59400")
    await eventually(lambda: any(o["id"] == order["id"] and o["status"] == "closed"
                                 for o in exchange.orders))
    seen = [o for o in exchange.orders if o["id"] == order["id"]]
    assert (seen[-1]["status"], seen[-1]["price"], seen[-1]["average"]) == ("closed", 59500,
                                                                            59500)
    if venue_of(exchange) == "binance":
        updates = [p["payload"]["o"] for p in sim.control.pushes("binance")
                   if p["topic"] == "ORDER_TRADE_UPDATE"]
        assert [(u["x"], u["X"], u["p"], u["m"]) for u in updates] == [
            ("NEW", "NEW", "59000", False), ("AMENDMENT", "NEW", "59500", False),
            ("TRADE", "FILLED", "59500", True)]
    else:
        pushed = [p["payload"]["data"][0] for p in sim.control.pushes("bybit")
                  if p["topic"] == "order"]
        assert [(o["orderStatus"], o["price"], o["orderType"]) for o in pushed] == [
            ("New", "59000", "Limit"), ("New", "59500", "Limit"), ("Filled", "59500", "Limit")]
