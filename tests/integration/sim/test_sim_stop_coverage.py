"""Binance's one-closePosition-stop-per-side rule (-4130), reduce-only quantity stops, and the
simulator's record of when an open position had no stop on the venue."""

from __future__ import annotations

import aiohttp
import ccxt
import pytest

from .conftest import BTC


async def _stop(exchange, price: float, qty: float | None = 0.01) -> dict:
    params = {"stopLossPrice": price, **({"reduceOnly": True} if qty else {"closePosition": True})}
    return await exchange.create_order(BTC, "market", "sell", qty, None, params)


async def test_a_second_close_position_stop_per_side_is_refused_with_4130(abinance, sim):
    await abinance.create_order(BTC, "market", "buy", 0.02)
    await _stop(abinance, 58000, qty=None)
    with pytest.raises(ccxt.ExchangeError, match="-4130"):
        await _stop(abinance, 58500, qty=None)
    take_profit = await abinance.create_order(BTC, "market", "sell", None, None,
                                              {"takeProfitPrice": 65000, "closePosition": True})
    assert take_profit["id"]                  # a take-profit is another type: allowed


async def test_reduce_only_quantity_stops_may_be_several_per_side(abinance, sim):
    await abinance.create_order(BTC, "market", "buy", 0.02)
    first, second = await _stop(abinance, 58000), await _stop(abinance, 57500)
    listed = await abinance.fetch_open_orders(BTC, params={"trigger": True})
    assert {o["id"] for o in listed} == {first["id"], second["id"]}
    sim.control.set_price("BTCUSDT", "57400")
    assert not [p for p in await abinance.fetch_positions() if p["contracts"]]
    assert await abinance.fetch_open_orders(BTC, params={"trigger": True}) == []


async def test_entry_gap_runs_from_the_fill_to_the_first_stop(abinance, sim, manual_clock):
    await abinance.create_order(BTC, "market", "buy", 0.01)
    manual_clock.advance(1.5)
    await _stop(abinance, 58000)
    manual_clock.advance(10)
    position, = sim.control.coverage("binance")
    assert (position["symbol"], position["side"], position["closed_ms"]) == ("BTCUSDT", "buy",
                                                                             None)
    assert [(g["kind"], g["duration_ms"]) for g in position["gaps"]] == [("entry", 1500)]
    assert sim.control.largest_naked("binance")["duration_ms"] == 1500
    assert sim.control.largest_naked("binance", kind="move") is None


async def test_placing_the_new_stop_before_cancelling_the_old_leaves_no_gap(abinance, sim,
                                                                           manual_clock):
    await abinance.create_order(BTC, "market", "buy", 0.01)
    old = await _stop(abinance, 58000)
    manual_clock.advance(1)
    await _stop(abinance, 58500)
    await abinance.cancel_order(old["id"], BTC, {"trigger": True})
    position, = sim.control.coverage("binance")
    assert [g["kind"] for g in position["gaps"]] == ["entry"]      # the 0 ms entry only
    assert sim.control.largest_naked(kind="move") is None


async def test_cancelling_before_placing_records_a_move_gap(abinance, sim, manual_clock):
    await abinance.create_order(BTC, "market", "buy", 0.01)
    old = await _stop(abinance, 58000)
    await abinance.cancel_order(old["id"], BTC, {"trigger": True})
    manual_clock.advance(0.25)
    await _stop(abinance, 58500)
    worst = sim.control.largest_naked("binance", kind="move")
    assert (worst["symbol"], worst["duration_ms"], worst["end_ms"] - worst["start_ms"]) == (
        "BTCUSDT", 250, 250)


async def test_a_take_profit_is_not_a_stop(abinance, sim, manual_clock):
    await abinance.create_order(BTC, "market", "buy", 0.01)
    await abinance.create_order(BTC, "market", "sell", 0.01, None,
                                {"takeProfitPrice": 65000, "reduceOnly": True})
    manual_clock.advance(3)
    gap, = sim.control.coverage("binance")[0]["gaps"]
    assert (gap["kind"], gap["end_ms"], gap["duration_ms"]) == ("entry", None, 3000)


async def test_bybit_stop_attached_to_the_entry_leaves_no_gap_and_moves_in_place(abybit, sim,
                                                                                 manual_clock):
    await abybit.create_order(BTC, "market", "buy", 0.01, None, {"stopLoss": 58000})
    manual_clock.advance(1)
    await abybit.create_order(BTC, "market", "sell", 0.01, None, {
        "stopLossPrice": 58500, "tradingStopEndpoint": True, "positionIdx": 0})
    position, = sim.control.coverage("bybit")
    assert position["covered"] is True and position["gaps"] == []
    sim.control.set_price("BTCUSDT", "58400")                 # the stop closes it
    position, = sim.control.coverage("bybit")
    assert position["closed_ms"] is not None and position["gaps"] == []


async def test_each_position_gets_its_own_record_and_an_unprotected_one_stays_open(
        abybit, sim, manual_clock):
    await abybit.create_order(BTC, "market", "buy", 0.01)
    await abybit.create_order(BTC, "market", "sell", 0.02)     # flips through zero: a new one
    manual_clock.advance(2)
    long, short = sim.control.coverage("bybit", symbol="BTCUSDT")
    assert (long["side"], long["closed_ms"] is not None) == ("buy", True)
    assert (short["side"], short["closed_ms"]) == ("sell", None)
    assert short["gaps"][0]["duration_ms"] == 2000
    assert sim.control.largest_naked()["position_idx"] == 0


async def test_the_coverage_record_is_on_the_http_control_api(abinance, sim, manual_clock):
    await abinance.create_order(BTC, "market", "buy", 0.01)
    manual_clock.advance(0.75)
    await _stop(abinance, 58000)
    async with aiohttp.ClientSession(base_url=sim.http_url) as http:
        async with http.get("/_sim/coverage", params={"account": "binance"}) as answer:
            rows = (await answer.json())["result"]
        async with http.get("/_sim/largest-naked", params={"kind": "entry"}) as answer:
            worst = (await answer.json())["result"]
    assert rows[0]["gaps"][0]["duration_ms"] == 750
    assert (worst["account"], worst["duration_ms"]) == ("binance", 750)
