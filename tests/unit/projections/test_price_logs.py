"""Prices in both kinds of log: the price tape (today) and each position's `MarkPriceObserved`
(logs written before it); and the decisions of a tape log replayed from the position alone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.builders import at, protected
from tests.unit.projections.conftest import events_of_file, example_events, policy
from warden.domain.values import StopPurpose
from warden.projections.decisions import replay_decisions
from warden.projections.recorded import price_ticks, read_recorded

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "demo-85d6b9c.jsonl"


def names(events) -> set[str]:
    return {type(e).__name__ for e in events}


def test_an_old_log_has_its_prices_on_the_positions_and_they_are_read_once_per_symbol():
    events = events_of_file(FIXTURE)
    assert "MarkPriceObserved" in names(events) and "PriceRecorded" not in names(events)
    marks = {(e.timestamp, e.price) for e in events if type(e).__name__ == "MarkPriceObserved"}
    ticks = list(price_ticks(events))
    assert ticks and {(t.time, t.price) for t in ticks} == marks
    assert len(ticks) == len({(t.venue, t.symbol, t.time, t.price) for t in ticks})


def test_a_tape_log_has_its_prices_on_the_tape_only():
    events = example_events("trailing-stop")
    assert "PriceRecorded" in names(events) and "MarkPriceObserved" not in names(events)
    tape = [(e.timestamp, e.price) for e in events if type(e).__name__ == "PriceRecorded"]
    log = read_recorded(events)
    assert [(t.time, t.price) for t in log.prices("bybit", "SHIB1000USDT")] == sorted(tape)


def test_a_tape_logs_trailing_decisions_replay_from_the_prices_they_record():
    (position,) = read_recorded(example_events("trailing-stop")).positions.values()
    assert replay_decisions(position.history, policy()) == []
    tighter = replay_decisions(position.history, policy(trailing_callback_percent="0.3"))
    assert tighter and tighter[0].event == "StopLossRequested" and tighter[0].replayed > tighter[0].recorded


def test_an_activation_at_a_price_that_does_not_activate_is_a_divergence():
    p = protected(price="60000")  # activation at +1 % by the default policy
    p.activate_trailing(price=Decimal("60300"), activation_percent=Decimal(1), at=at(10))  # +0.5 %
    p.request_stop(price=Decimal("60000"), reference_price=Decimal("60300"), purpose=StopPurpose.TRAIL,
                   at=at(11))
    divergences = replay_decisions(p.collect_events(), policy())
    assert [d.event for d in divergences][:1] == ["TrailingActivated"]
