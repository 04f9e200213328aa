"""A soak scenario is its seed: the same seed draws the same timeline, and the process faults fall
on one seed in four."""

from __future__ import annotations

from tests.soak.scenario import draw


def test_a_seed_alone_decides_its_scenario():
    assert draw(1234) == draw(1234)
    assert draw(1234) != draw(1235)


def test_one_seed_in_four_kills_the_service_or_stops_the_database():
    heavy = [s for s in range(1, 21) if {"sigkill", "postgres_down"} & set(draw(s).faults())]

    assert heavy == [4, 8, 12, 16, 20]


def test_every_scenario_signals_on_both_venues_and_moves_prices():
    for seed in range(1, 50):
        steps = draw(seed).steps
        assert {s.args["exchange"] for s in steps if s.action == "signal"} == {"bybit", "binanceusdm"}
        assert sum(1 for s in steps if s.action == "price") >= 6
