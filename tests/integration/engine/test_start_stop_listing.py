"""A start verifies every position's stop from one listing of each account's stops: a few requests
per account, however many positions it holds, instead of a stop query per position (a cold start
with 1,000 positions made ~2,600 requests before, one round trip after another; bench/engine.py P4).
The listing only spares the venue questions: a stop it does not show in place is asked about and
handled as before (test_restart.py, test_resume_side_by_side.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.engine.conftest import ACCOUNTS, signal
from warden.engine.ports import StopMode
from warden.sim.market import DEFAULT_INSTRUMENTS, Instrument
from warden.sim.server import Simulator

SYMBOLS = [f"S{i:02d}USDT" for i in range(12)]
VENUES = ("bybit", "binanceusdm")
# the requests that list or query stop orders: Bybit's conditional orders, Binance's algo orders
STOP_QUERIES = {"bybit": "/v5/order/realtime", "binanceusdm": "/fapi/v1/openAlgoOrders"}


@pytest.fixture
async def sim():
    d = Decimal
    extra = [Instrument(s, s.removesuffix("USDT"), d("0.0001"), d("1"), d("1"), d("10000000"),
                        d("0.0001"), d("1000"), d("5"), d("1.0000"), max_leverage=50)
             for s in SYMBOLS]
    async with Simulator(instruments=[*DEFAULT_INSTRUMENTS, *extra]) as simulator:
        yield simulator


@pytest.mark.parametrize("stop_mode", [StopMode.POSITION, StopMode.CONDITIONAL])
async def test_a_start_lists_each_accounts_stops_once_instead_of_asking_per_position(
        sim, make_engine, stop_mode):
    first = await make_engine(stop_mode=stop_mode)
    for venue in VENUES:
        for i, symbol in enumerate(SYMBOLS):
            outcome = await first.submit(signal(f"{venue}-{symbol}", exchange=venue, symbol=symbol,
                                                quantity="10", side=("long", "short")[i % 2]))
            assert outcome.status == "accepted"
    await first.idle()
    protected = [p for p in first.positions.values() if p.is_protected]
    assert len(protected) == len(VENUES) * len(SYMBOLS)
    await first.stop()
    before = len(sim.control.requests())

    second = await make_engine(stop_mode=stop_mode)

    assert second.ready and len(second.positions) == len(protected)
    during = sim.control.requests()[before:]
    for venue in VENUES:
        sim_venue = ACCOUNTS[venue][0]
        queries = [r for r in during if r["venue"] == sim_venue and STOP_QUERIES[venue] in r["path"]]
        assert len(queries) == 1, queries  # one listing for the account, no query per position
        assert "symbol" not in queries[0]["params"]
    # the whole start: a handful of requests per account (markets, position mode, positions, the
    # listing), whatever the number of positions: 13 here for 24 positions, ~2 per position before
    assert len(during) <= 8 * len(VENUES), sorted(r["path"] for r in during)
    # every stop was in place: no position recorded anything
    assert {p.id: p.version for p in second.positions.values()} == \
        {p.id: p.version for p in protected}
    for venue in VENUES:  # and each is still the one recorded, once
        stops = await second.ctx.ports[venue, ACCOUNTS[venue][0]].fetch_stops()
        by_symbol = {s.symbol: s.stop_price for s in stops}
        assert len(stops) == len(SYMBOLS)
        assert by_symbol == {p.symbol: p.stop_price for p in second.positions.values()
                             if p.venue == venue}
