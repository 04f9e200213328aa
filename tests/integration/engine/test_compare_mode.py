"""Compare mode in the running service: ccxt.pro feeds the engine while a native stream runs beside
it. A scripted session of ordinary trading ends with no discrepancy at all; a push the simulator
loses for one of the two feeds is counted, once."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_service import eventually
from warden.adapters.exchange.config import ExchangeConfig
from warden.adapters.service import WardenService
from warden.adapters.streams.binance_native import BinanceNativeStream
from warden.adapters.streams.bybit_native import BybitNativeStream
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.adapters.streams.compare import Mismatch
from warden.domain.lifecycle import Status
from warden.domain.reports import PositionReport
from warden.runtime.build import build_service
from warden.sim.server import Simulator

WINDOW = 1.0  # the service's settle window for compare mode
# warden venue -> (simulator account, native stream)
VENUES = {"bybit": ("bybit", BybitNativeStream), "binanceusdm": ("binance", BinanceNativeStream)}


@pytest.fixture(params=list(VENUES))
async def comparing(request, make_engine, sim: Simulator):
    """A service on one venue in compare mode; yields (service, its comparison, venue, sim account)."""
    venue = request.param
    account, native = VENUES[venue]
    engine = await make_engine(start=False, venues=(venue,))
    port = engine.ctx.ports[venue, account]
    feed = CcxtPrivateStream(port, settle=0.05)
    candidate = native(ExchangeConfig(**{**port.config.__dict__}), port)
    service = build_service(engine, [(feed, candidate)], tick_interval=0.2, symbols_interval=0.2,
                            compare_window=WINDOW).service
    await service.start()
    await eventually(lambda: not service.feeds_down() and candidate.health.up)
    yield service, service.comparisons[feed], venue, account
    await service.stop(grace=1)


async def settled(service: WardenService) -> None:
    """Quiet for longer than the window: everything said so far has been compared."""
    await asyncio.sleep(2.5 * WINDOW)


async def test_a_session_of_ordinary_trading_shows_no_discrepancy(comparing, sim: Simulator) -> None:
    service, comparison, venue, account = comparing
    engine = service.engine
    # a long entry, protected, trailing up, stopped out
    trailed = await engine.submit(signal("cmp-trail", exchange=venue))
    await engine.idle()
    for price in ("60400", "60800", "61200"):
        sim.control.set_price("BTCUSDT", price)
        await asyncio.sleep(0.4)
    await eventually(lambda: engine.positions[trailed.position_id].status is Status.TRAILING)
    sim.control.set_price("BTCUSDT", "60000")
    await eventually(lambda: trailed.position_id not in engine.positions)
    # a short closed by hand on the venue, and a position opened there by hand (adopted, protected)
    manual = await engine.submit(signal("cmp-manual", exchange=venue, symbol="ETHUSDT", side="short",
                                        quantity="0.10"))
    await engine.idle()
    sim.control.close_position(account, "ETHUSDT")
    await eventually(lambda: manual.position_id not in engine.positions)
    sim.control.open_position(account, "BTCUSDT", "sell", "0.020")
    await eventually(lambda: any(p.status is Status.PROTECTED for p in engine.positions.values()))
    await settled(service)

    assert service.discrepancies == []
    agreed = comparison.comparator.agreed  # each order, fill and position compared once settled
    assert agreed["order"] >= 4 and agreed["fill"] >= 4 and agreed["position"] >= 2


async def test_a_push_lost_for_one_feed_is_one_discrepancy(comparing, sim: Simulator) -> None:
    service, _, venue, account = comparing
    sim.control.open_position(account, "ETHUSDT", "buy", "0.10")  # adopted and protected
    await eventually(lambda: any(p.status is Status.PROTECTED for p in service.engine.positions.values()))
    await settled(service)
    assert service.discrepancies == []

    # The venue's word that the position ended flat reaches only one of the two feeds.
    sim.control.inject("push_drop", venue=account, path="position" if venue == "bybit" else "ACCOUNT",
                       times=1)
    sim.control.close_position(account, "ETHUSDT")
    await settled(service)

    [lost] = service.discrepancies
    assert lost.kind in (Mismatch.MISSING, Mismatch.EXTRA) and lost.key == ("position", "ETHUSDT")
    delivered = lost.baseline or lost.candidate
    assert isinstance(delivered, PositionReport) and delivered.is_flat
