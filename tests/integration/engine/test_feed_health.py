"""Every feed supervised, seen from the operator's side: ``/healthz`` over real HTTP while the
simulator's faults break a private feed, and position reports flowing again after it recovered."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.integration.engine.test_service import eventually
from tests.integration.exchange.exchange_sim_helpers import stall
from warden.adapters.streams.ccxt_private import CcxtPrivateStream
from warden.adapters.streams.supervision import Backoff
from warden.domain.values import Origin
from warden.sim.server import Simulator

# warden venue -> (simulator venue and account, the feed's name in the health report)
VENUES = {"bybit": ("bybit", "bybit/bybit/ccxt-pro"),
          "binanceusdm": ("binance", "binanceusdm/binance/ccxt-pro")}
FAST = Backoff(base=0.1, cap=0.4)
# Heartbeats every 0.5 s; a feed that hears nothing for 1.5 s is restarted.
QUICK = {"ws_keepalive_s": 0.5, "feed_quiet_s": 1.5}


def fast_feeds(exchanges):
    return [CcxtPrivateStream(x, backoff=FAST, settle=0.05) for x in exchanges]


async def healthz(base: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(base + "/healthz") as answer:
        return answer.status, json.loads(await answer.text())


async def adopted_from_a_push(service, sim: Simulator, venue: str) -> None:
    """A position opened by hand is pushed to warden, which adopts it: the feed delivers again."""
    handled = service.stats.handled["PositionReport"]
    sim.control.open_position(venue, "ETHUSDT", "buy", "0.10")
    await eventually(lambda: any(p.symbol == "ETHUSDT" and p.origin is Origin.ADOPTED
                                 for p in service.engine.positions.values()))
    assert service.stats.handled["PositionReport"] > handled


@pytest.mark.parametrize("venue", list(VENUES))
async def test_a_rest_outage_during_a_reconnect_is_503_naming_the_feed_until_it_recovers(
        ops_service, sim: Simulator, venue: str) -> None:
    service, base = await ops_service(fast_feeds, exchange_options=QUICK)
    sim_venue, feed = VENUES[venue]
    other = next(name for _, name in VENUES.values() if name != feed)

    sim.control.inject("http_error", venue=sim_venue, status=503)  # every REST call of the venue
    await sim.control.drop_websockets(sim_venue)
    await eventually(lambda: service.feeds_down() == [feed])
    await asyncio.sleep(3)  # past the resync's retries: here the feed used to end for good

    status, health = await healthz(base)
    assert status == 503 and health["feeds_down"] == [feed]
    assert health["feeds"][feed]["state"] != "connected" and health["feeds"][feed]["last_error"]
    assert health["feeds"][other]["state"] == "connected"

    sim.control.clear_faults("http_error")
    await eventually(lambda: not service.feeds_down(), timeout=15)
    status, health = await healthz(base)
    assert status == 200 and health["feeds"][feed]["restarts"] + health["feeds"][feed]["reconnects"] >= 1
    await adopted_from_a_push(service, sim, sim_venue)


@pytest.mark.parametrize("venue", list(VENUES))
async def test_a_feed_gone_silent_is_503_then_restarted_and_delivers_again(
        ops_service, sim: Simulator, venue: str) -> None:
    service, base = await ops_service(fast_feeds, exchange_options=QUICK)
    sim_venue, feed = VENUES[venue]

    assert stall(sim, sim_venue) == 1
    await eventually(lambda: service.feeds_down() == [feed])
    status, health = await healthz(base)
    assert status == 503 and health["feeds_down"] == [feed]

    await eventually(lambda: not service.feeds_down(), timeout=15)
    status, health = await healthz(base)
    assert status == 200 and health["feeds"][feed]["last_frame_age_s"] < 1.5
    await adopted_from_a_push(service, sim, sim_venue)
