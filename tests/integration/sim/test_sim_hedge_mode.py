"""Hedge (two-sided) position mode on both venues: switching and reading the mode the way ccxt
does, both sides open at once, and the one-way parameters refused on a hedge account."""

from __future__ import annotations

import ccxt
import ccxt.async_support
import pytest

from warden.sim import AccountSpec, Simulator, make_exchange

from .conftest import BTC, venue_of


async def _hedge(exchange) -> None:
    await exchange.set_position_mode(True, BTC if venue_of(exchange) == "bybit" else None)


def _open(positions: list[dict]) -> list[tuple]:
    return sorted((p["side"], p["contracts"], p["entryPrice"]) for p in positions
                  if p["contracts"])


async def test_both_sides_open_and_close_independently(aex, sim):
    await _hedge(aex)
    await aex.create_order(BTC, "market", "buy", 0.02, None, {"hedged": True})
    sim.control.set_price("BTCUSDT", "61000")
    await aex.create_order(BTC, "market", "sell", 0.01, None, {"hedged": True})
    assert _open(await aex.fetch_positions([BTC])) == [("long", 0.02, 60000),
                                                       ("short", 0.01, 61000)]
    await aex.create_order(BTC, "market", "sell", 0.02, None, {"hedged": True,
                                                                "reduceOnly": True})
    assert _open(await aex.fetch_positions([BTC])) == [("short", 0.01, 61000)]
    trade = (await aex.fetch_my_trades(BTC))[-1]
    assert (trade["side"], trade["amount"]) == ("sell", 0.02)


async def test_the_mode_is_readable_as_ccxt_reads_it(aex, sim):
    if venue_of(aex) == "binance":
        assert (await aex.fetch_position_mode(BTC))["hedged"] is False
        await _hedge(aex)
        assert (await aex.fetch_position_mode(BTC))["hedged"] is True
    else:      # Bybit has no mode query: a symbol's position list shows positionIdx 1 and 2
        assert [p["info"]["positionIdx"] for p in await aex.fetch_positions([BTC])] == [0]
        await _hedge(aex)
        rows = await aex.fetch_positions([BTC])
        assert [(p["info"]["positionIdx"], p["hedged"]) for p in rows] == [(1, True), (2, True)]
        eth = await aex.fetch_positions(["ETH/USDT:USDT"])          # BTC only was switched
        assert [p["info"]["positionIdx"] for p in eth] == [0]


async def test_one_way_parameters_are_refused_on_a_hedge_account(aex, sim):
    await _hedge(aex)
    code = "10001" if venue_of(aex) == "bybit" else "-4061"
    with pytest.raises(ccxt.ExchangeError, match=code) as caught:
        await aex.create_order(BTC, "market", "buy", 0.01)
    if venue_of(aex) == "bybit":
        assert "position idx not match position mode" in str(caught.value)
        return
    with pytest.raises(ccxt.ExchangeError, match="-1106"):
        await aex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                        "quantity": "0.01", "positionSide": "LONG",
                                        "reduceOnly": "true"})


async def test_switching_is_refused_when_unchanged_or_with_a_position_or_order(aex, sim):
    bybit = venue_of(aex) == "bybit"
    with pytest.raises(ccxt.ExchangeError, match="110025" if bybit else "-4059"):
        await aex.set_position_mode(False, BTC if bybit else None)
    order = await aex.create_order(BTC, "limit", "buy", 0.01, 59000)
    with pytest.raises(ccxt.ExchangeError, match="110028" if bybit else "-4067"):
        await _hedge(aex)
    await aex.cancel_order(order["id"], BTC)
    await aex.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.ExchangeError, match="110024" if bybit else "-4068"):
        await _hedge(aex)


async def test_a_stop_protects_one_side_of_a_hedge_account(aex, sim):
    await _hedge(aex)
    await aex.create_order(BTC, "market", "buy", 0.01, None, {"hedged": True})
    await aex.create_order(BTC, "market", "sell", 0.01, None, {"hedged": True})
    if venue_of(aex) == "bybit":
        await aex.create_order(BTC, "market", "sell", 0.01, None, {
            "stopLossPrice": 58000, "tradingStopEndpoint": True, "positionIdx": 1})
    else:
        await aex.create_order(BTC, "market", "sell", None, None, {
            "stopLossPrice": 58000, "closePosition": True, "positionSide": "LONG"})
    sim.control.set_price("BTCUSDT", "57900")
    assert _open(await aex.fetch_positions([BTC])) == [("short", 0.01, 60000)]


async def test_an_account_can_start_in_hedge_mode(manual_clock):
    spec = AccountSpec("hedged", "binance", "h-key", "h-secret", hedge=True)
    async with Simulator(clock=manual_clock, accounts=[spec]) as sim:
        exchange = make_exchange(ccxt.async_support, "binance", sim, "h-key", "h-secret")
        try:
            await exchange.load_markets()
            assert (await exchange.fetch_position_mode())["hedged"] is True
            assert sim.control.state("hedged")["accounts"]["hedged"]["hedge"]
        finally:
            await exchange.close()
