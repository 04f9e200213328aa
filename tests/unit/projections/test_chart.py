"""What `warden report` draws for a position, checked on the logs the real engine wrote."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.projections.conftest import example_events, read_example
from warden.projections.chart import CLOSE, FEEDS, FILLS, PHANTOMS, REFUSED, STEPS, chart_for


def _only(name):
    """The example's one position and its chart."""
    log = read_example(name)
    (position,) = log.positions.values()
    return position, chart_for(position, log)


def _series(chart):
    return {s.name: s for s in chart.series}


def test_the_stop_is_a_step_line_through_every_placement_and_move_held_to_the_close():
    position, chart = _only("trailing-stop")
    series = _series(chart)
    recorded = [e.price for e in position.history if type(e).__name__ == "StopLossPlaced"]
    recorded += [e.new_price for e in position.history if type(e).__name__ == "StopLossMoved"]
    stop = series["stop"]
    assert stop.style == "step" and [p.price for p in stop.points][:-1] == recorded
    assert stop.points[-1].time == position.closed_at and stop.points[-1].price == recorded[-1]
    assert len(recorded) >= 3 and recorded == sorted(recorded)  # a long's stop only goes up
    assert "StopLossMoved" in stop.points[2].text and "old_price=" in stop.points[2].text


def test_the_price_line_is_every_recorded_price_of_the_symbol_in_the_life_of_the_position():
    position, chart = _only("trailing-stop")
    created, events = position.created, example_events("trailing-stop")
    tape = {e.originator_id for e in events if type(e).__name__ == "PriceTapeOpened"
            and (e.venue, e.symbol) == (created.venue, created.symbol)}
    prices = sorted((e.timestamp, e.price) for e in events if type(e).__name__ == "PriceRecorded"
                    and e.originator_id in tape and created.timestamp <= e.timestamp <= position.closed_at)
    assert len(prices) >= 3 and [(p.time, p.price) for p in _series(chart)["price"].points] == prices
    entry = _series(chart)["entry"].points
    assert {p.price for p in entry} == {Decimal("0.012345")}


def test_markers_show_the_fills_the_trailing_start_and_the_close_and_the_table_the_decisions():
    position, chart = _only("trailing-stop")
    series = _series(chart)
    assert {FILLS, STEPS, CLOSE} <= set(series)
    assert any("TrailingActivated" in p.text for p in series[STEPS].points)
    assert any("TRAILING_STOP_HIT" in p.text for p in series[CLOSE].points)
    events = [type(e).__name__ for e in position.history if type(e).__name__ != "MarkPriceObserved"]
    assert [row.event for row in chart.rows] == events
    assert "TRAILING_STOP_HIT" in chart.summary[0]


def test_the_seed_incidents_rejected_stop_is_marked_with_the_venues_code_and_words():
    _, chart = _only("seed-incident")
    rejected = [p for p in _series(chart)[REFUSED].points if "StopLossRejected" in p.text]
    assert len(rejected) == 1 and "code=10001" in rejected[0].text
    assert "minimum price precision" in rejected[0].text.replace("<br>", " ")
    assert "PROTECTED" in chart.summary[0]


def test_the_phantom_it_was_adopted_from_is_on_the_adopted_positions_chart():
    position, chart = _only("phantom")
    phantom = _series(chart)[PHANTOMS].points
    assert len(phantom) == 1 and "PhantomDetected" in phantom[0].text and "action=ADOPT" in phantom[0].text
    assert phantom[0].time <= position.created.timestamp
    assert "adopted from the exchange" in chart.title


def test_the_resync_snapshot_that_found_the_outage_close_is_on_the_chart():
    position, chart = _only("websocket-outage")
    snapshots = [p for p in _series(chart)[FEEDS].points if "PositionsSnapshotted" in p.text]
    assert snapshots and "holds: nothing" in snapshots[-1].text
    assert snapshots[-1].time <= position.closed_at
    assert any("MANUAL" in p.text for p in _series(chart)[CLOSE].points)


def test_a_long_price_line_is_thinned_keeping_every_runs_lowest_and_highest():
    from datetime import timedelta

    from tests.builders import T0
    from warden.projections.chart import thin
    from warden.projections.recorded import PriceTick

    prices = [Decimal(100 + (i % 7) - (50 if i == 4321 else 0)) for i in range(10_000)]
    ticks = [PriceTick(T0 + timedelta(seconds=i), "bybit", "BTCUSDT", p) for i, p in enumerate(prices)]
    kept = thin(ticks, limit=1000)
    assert len(kept) <= 1000 and kept == sorted(kept)
    assert ticks[4321] in kept  # the one dip survives
    assert {min(prices), max(prices)} <= {t.price for t in kept}
    assert thin(ticks[:999], limit=1000) == ticks[:999]
