"""Health, metrics and logs of a running service, over real HTTP on loopback."""

from __future__ import annotations

import io
import json
import logging
import re

import aiohttp
import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_service import eventually
from tests.integration.engine.test_trailing_and_aged import walk
from warden.adapters.logs import EventLogger, configure_logging


@pytest.fixture
async def running(ops_service):
    return await ops_service()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.text()


async def test_healthz_is_ok_when_reconciled_and_connected_and_503_when_a_feed_is_down(running, sim):
    service, base = running
    status, body = await get(base + "/healthz")
    assert status == 200 and json.loads(body)["ok"] is True

    sim.control.inject("missing_auth_ack", venue="bybit")
    await sim.control.drop_websockets("bybit")
    await eventually(lambda: service.feeds_down() == ["bybit/bybit/ccxt-pro"])
    status, body = await get(base + "/healthz")
    health = json.loads(body)
    assert status == 503 and health["feeds_down"] == ["bybit/bybit/ccxt-pro"]
    assert health["feeds"]["bybit/bybit/ccxt-pro"]["state"] != "connected"


async def test_metrics_count_positions_events_decisions_and_signals(running, sim):
    service, base = running
    await service.engine.submit(signal("m-1"))
    await service.engine.submit(signal("m-2", quantity="-1"))
    await service.engine.idle()
    await walk(service.engine, sim, "bybit", ["60700", "61000"])

    status, text = await get(base + "/metrics")

    assert status == 200
    assert 'warden_positions{status="TRAILING"} 1.0' in text
    assert 'warden_signals_total{outcome="accepted"} 1.0' in text
    assert 'warden_signals_total{outcome="rejected"} 1.0' in text
    # every trailing move the engine sent, counted as a decision, a move and a latency: one or two,
    # as the walk's prices and the service's own mark feed (the same prices, pushed by the venue)
    # happen to arrive
    counted = {m[0]: float(m[1]) for m in re.findall(
        r'^(warden_stop_decisions_total\{purpose="trail"\}|warden_stop_moves_total|'
        r'warden_update_to_decision_seconds_count) ([0-9.]+)$', text, re.MULTILINE)}
    moves, latencies = service.engine.trailing.moves_sent, 'warden_update_to_decision_seconds_count'
    assert moves >= 1 and len(counted) == 3 and counted[latencies] >= 1, (moves, counted)
    assert {v for k, v in counted.items() if k != latencies} == {float(moves)}, (moves, counted)
    assert 'warden_events_appended_total{event="EntryFilled"} 1.0' in text
    # the walk's marks (the service's own mark feed adds the venue's): acted on, and on the tape
    figures = {m[0]: float(m[1]) for m in re.findall(r'^(warden_marks\{outcome="\w+"\}|warden_tape_prices) '
                                                      r'([0-9.]+)$', text, re.MULTILINE)}
    assert figures['warden_marks{outcome="acted"}'] >= 2 and 'warden_marks{outcome="superseded"}' in figures
    assert figures["warden_tape_prices"] >= 2  # 60,700 and 61,000: each used by a move


async def test_every_log_line_about_a_position_is_json_with_its_id_and_no_secret(make_engine):
    canary = "canary-secret-7f3a"
    out = io.StringIO()
    configure_logging("INFO", secrets=[canary], stream=out)
    try:
        engine = await make_engine()
        engine.ctx.listeners.append(EventLogger())
        outcome = await engine.submit(signal("logged"))
        await engine.idle()
        logging.getLogger("warden.test").error("failed with key %s", canary)
    finally:
        logging.getLogger().handlers.clear()

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    about = [line for line in lines if line.get("position_id") == str(outcome.position_id)]
    assert [line["event"] for line in about][:3] == ["SignalAccepted", "EntryOrderRequested",
                                                     "EntryOrderPlaced"]
    assert canary not in out.getvalue() and any("***" in line["msg"] for line in lines)
