"""Fixtures: the simulator on 127.0.0.1 in the test's event loop, and a real ccxt adapter on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.exchange.exchange_sim_helpers import make_config
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.domain.values import Venue
from warden.sim.server import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture(params=[Venue.BYBIT, Venue.BINANCE], ids=["bybit", "binance"])
def venue(request: pytest.FixtureRequest) -> Venue:
    return request.param


@pytest.fixture
async def exchange(sim: Simulator, venue: Venue) -> AsyncIterator[CcxtExchange]:
    adapter = CcxtExchange(make_config(sim, venue), poll_interval=0.05)
    yield adapter
    await adapter.close()
