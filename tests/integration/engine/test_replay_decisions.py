"""Replaying a recorded engine session through the policies reproduces every decision."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

from tests.integration.engine.conftest import FAST, signal
from tests.integration.engine.test_trailing_and_aged import LONG_PATH, SHORT_PATH, walk
from warden.adapters.eventlog import export_log, import_log
from warden.adapters.store import open_store
from warden.domain.policies import TrailingStopPolicy
from warden.projections.decisions import replay_decisions


async def test_the_recorded_log_replays_to_the_same_decisions(sim, make_engine, store):
    engine = await make_engine()
    long = await engine.submit(signal("replay-long"))
    short = await engine.submit(signal("replay-short", exchange="binanceusdm", side="short"))
    await engine.idle()
    await walk(engine, sim, "bybit", LONG_PATH)
    await walk(engine, sim, "binanceusdm", SHORT_PATH)
    log = io.StringIO()
    export_log(store, log)
    replayed = open_store("memory://")
    import_log(replayed, io.StringIO(log.getvalue()))

    for outcome in (long, short):
        history = replayed.history(outcome.position_id)
        decisions = [e for e in history if type(e).__name__ in ("TrailingActivated", "StopLossRequested")]
        assert len(decisions) >= 4
        assert replay_decisions(history, FAST) == []


async def test_a_different_policy_shows_where_the_decisions_diverge(sim, make_engine, store):
    engine = await make_engine()
    outcome = await engine.submit(signal("replay-diverge"))
    await engine.idle()
    await walk(engine, sim, "bybit", LONG_PATH)

    tighter = replace(FAST, trailing=TrailingStopPolicy(Decimal("1"), Decimal("0.2"), min_step_ticks=1,
                                                        min_interval_seconds=Decimal(0)))
    divergences = replay_decisions(store.history(outcome.position_id), tighter)

    assert divergences and {d.event for d in divergences} == {"StopLossRequested"}
    assert all(d.replayed > d.recorded for d in divergences)  # a tighter callback stops higher
