"""`warden whatif`: recorded inputs through today's policies, compared with what was recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders import BTC, at, protected
from tests.unit.projections.conftest import policy, read_example
from warden.domain.values import CloseReason, PriceSource, Side
from warden.projections.decisions import replay_decisions
from warden.projections.recorded import price_ticks, read_recorded
from warden.projections.whatif import compare

EXAMPLES = ("seed-incident", "phantom", "websocket-outage", "trailing-stop", "aged-exit")


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_recorded_policy_reproduces_every_decision_of_the_real_engine(name):
    log = read_example(name)
    for position in log.positions.values():
        c = compare(position, log, policy())
        assert c.difference is None, c.difference
        assert [d.key for d in c.whatif.decisions] == [d.key for d in c.recorded.decisions]
        assert c.whatif.reason == c.recorded.reason


def test_a_tighter_callback_trails_closer_and_exits_higher():
    log = read_example("trailing-stop")
    position = next(iter(log.positions.values()))
    recorded = compare(position, log, policy())
    tighter = compare(position, log, policy(trailing_callback_percent="0.3"))

    def trail(outcome):
        return [d.price for d in outcome.decisions if d.detail == "trail"]
    assert len(trail(tighter.whatif)) == len(trail(recorded.recorded)) >= 2
    assert all(new > old for new, old in zip(trail(tighter.whatif), trail(recorded.recorded), strict=True))
    assert tighter.whatif.reason is CloseReason.TRAILING_STOP_HIT
    assert tighter.whatif.exit_price == trail(tighter.whatif)[-1]  # filled at the stop, by assumption
    assert tighter.whatif.pnl > tighter.recorded.pnl
    # the first difference is the one projections/decisions.py finds from the recorded state
    first = replay_decisions(position.history, policy(trailing_callback_percent="0.3"))[0]
    recorded_decision, whatif_decision = tighter.difference
    assert recorded_decision.version == first.version
    assert (whatif_decision.detail, whatif_decision.price) == ("trail", first.replayed)


def test_a_longer_max_age_keeps_the_aged_position_open_to_the_end_of_the_log():
    log = read_example("aged-exit")
    position = next(iter(log.positions.values()))
    c = compare(position, log, policy(aged_max_age_seconds="7200"))
    assert c.recorded.reason is CloseReason.AGED_EXIT
    assert c.whatif.reason is None and "open at the end" in c.whatif.note
    assert not any(d.event == "PositionAged" for d in c.whatif.decisions)
    assert c.difference[0].event == "PositionAged" and c.difference[1] is None
    last = log.prices(position.created.venue, position.created.symbol)[-1].price
    exit_fees = position.history[-1].fees  # the recorded exit's, charged to the what-if too
    assert c.whatif.pnl == (last - Decimal(3000)) * Decimal("0.10") - exit_fees


def test_a_wider_initial_stop_differs_from_the_first_decision_of_the_seed_incident():
    log = read_example("seed-incident")
    position = next(iter(log.positions.values()))
    c = compare(position, log, policy(initial_stop_percent="5"))
    recorded, whatif = c.difference
    assert recorded.event == whatif.event == "StopLossRequested"
    assert whatif.detail == recorded.detail == "initial" and whatif.price < recorded.price


def _log(position, marks, *, close=None):
    for seconds, price in marks:
        position.observe_mark(price=Decimal(price), source=PriceSource.MARK, at=at(seconds))
    if close is not None:
        position.close(exit_price=Decimal(close[1]), fees=Decimal("0.1"), reason=close[2], at=at(close[0]))
    log = read_recorded(position.collect_events())
    return log, log.positions[position.id]


def test_a_short_is_stopped_when_the_price_rises_through_its_stop_at_the_stop_price():
    short = protected(Side.SHORT, "60000")  # recorded stop 61200 (2 %)
    log, position = _log(short, [(10, "60300"), (20, "60700"), (30, "60400")])
    c = compare(position, log, policy(initial_stop_percent="1"))  # what-if stop 60600
    assert c.recorded.reason is None
    assert c.whatif.reason is CloseReason.STOP_HIT and c.whatif.exit_price == Decimal("60600.0")
    assert c.whatif.exit_time == at(20)
    assert c.whatif.pnl == (Decimal(60000) - Decimal(60600)) * Decimal("0.010") - Decimal("0.36")


def test_a_close_by_hand_happens_in_the_what_if_at_its_recorded_time_and_price():
    p = protected(Side.LONG, "60000")
    log, position = _log(p, [(10, "60100")], close=(50, "60150", CloseReason.MANUAL))
    c = compare(position, log, policy(trailing_callback_percent="0.3"))
    assert (c.whatif.reason, c.whatif.exit_price, c.whatif.exit_time) == (
        CloseReason.MANUAL, Decimal(60150), at(50))
    assert c.whatif.pnl == c.recorded.pnl


def test_a_throttled_trailing_move_runs_when_the_interval_ends_from_the_best_price_then():
    p = protected(Side.LONG, "60000")
    log, position = _log(p, [(10, "60700"), (11, "60800"), (12, "60900"), (20, "60850")])
    c = compare(position, log, policy(trailing_min_interval_seconds="3"))
    moves = [d for d in c.whatif.decisions if d.detail == "trail"]
    assert [m.time for m in moves] == [at(10), at(13)]  # 11 and 12 were inside the interval
    assert moves[1].price == BTC.round_stop(Side.LONG, Decimal("60900") * Decimal("0.995"))


def test_nothing_happens_after_the_last_event_of_the_log():
    p = protected(Side.LONG, "60000")
    log, position = _log(p, [(10, "60100")])
    c = compare(position, log, policy(aged_max_age_seconds="60"))  # would age at 60 s; the log ends at 10 s
    assert c.whatif.reason is None and c.difference is None


def test_a_tick_seen_by_two_positions_of_one_symbol_is_one_price():
    first, second = protected(signal_id="a"), protected(signal_id="b")
    events = []
    for p in (first, second):
        p.observe_mark(price=Decimal("60100"), source=PriceSource.MARK, at=at(10))
        events += p.collect_events()
    ticks = list(price_ticks(sorted(events, key=lambda e: e.timestamp)))
    assert [(t.time, t.venue, t.symbol, t.price) for t in ticks] == [(at(10), "bybit", "BTCUSDT", 60100)]
