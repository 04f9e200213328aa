"""The engine benchmark in its smallest mode, so that it cannot rot: `warden run` against the
simulator with latency on, every phase, every figure produced. No speed is asserted here (targets
are the benchmark's to report, bench/README.md)."""

from __future__ import annotations

import re

import pytest

from bench import engine
from bench.figures import render

pytestmark = pytest.mark.postgres

FIGURES = [
    ("P1", "update->decision p50"),
    ("P1", "update->decision p99"),
    ("P1", "price updates acted on or superseded"),
    ("P1", "behind the market when prices stop"),
    ("P1", "backlog growth"),
    ("P1", "events durably recorded"),
    ("P1", "RSS"),
    ("Log", "growth of the log tables"),
    ("Log", "growth of the database"),
    ("P5", "RSS"),
    ("P2", "rebuild every read model"),
    ("P4", "cold start"),
    ("P4", "venue requests during the start"),
]


def test_the_smallest_run_produces_every_figure(pg_server):
    lines = engine.run(engine.TINY, pg_server, latency_ms=80, jitter_ms=20)

    for phase, measure in FIGURES:
        found = [x for x in lines if x.phase == phase and x.measure.startswith(measure)]
        assert len(found) == 1, f"{phase} {measure}: {[x.measure for x in lines]}"
        # a figure, or a plain "n/a (needs ...)" with what this build measured instead beside it
        assert found[0].value and (not found[0].value.startswith("n/a") or found[0].baseline), found[0]
    with_baseline = [x for x in lines if x.phase in ("P2", "P4", "P5") or "durably" in x.measure]
    assert all(re.search(r"\d", x.baseline) for x in with_baseline), with_baseline
    cold = next(x for x in lines if x.measure.startswith("cold start"))
    assert re.match(r"cold start, 6 open positions", cold.measure), cold  # every position was loaded
    table = render(lines)
    assert all(measure in table for _, measure in FIGURES)
