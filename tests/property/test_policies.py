"""Properties of protective rounding and of the three policies, for any valid instrument and price."""

from __future__ import annotations

import itertools
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.property.strategies import decimals_between, instruments, percents, positive_prices, sides
from warden.domain.errors import InvalidStop
from warden.domain.instrument import Instrument
from warden.domain.policies import AgedExitPolicy, AgedPhase, InitialStopPolicy, TrailingStopPolicy
from warden.domain.values import Side

# Prices with at most 17 significant digits, so `percent * price` stays exact in Decimal's 28.
fill_prices = st.builds(lambda n, k: Decimal(n).scaleb(-k), st.integers(1, 10**9), st.integers(0, 8))


def tick_count(instrument: Instrument) -> st.SearchStrategy[Decimal]:
    return st.integers(1, 10**7).map(lambda n: instrument.tick_size * n)


@given(instrument=instruments(), side=sides, raw=positive_prices)
def test_a_stop_rounds_to_the_tick_toward_the_position_and_by_less_than_a_tick(instrument, side, raw):
    stop = instrument.round_stop(side, raw)
    tick = instrument.tick_size
    assert instrument.is_tick_multiple(stop)
    if side is Side.LONG:
        assert raw <= stop < raw + tick, f"a long's stop {raw} rounded to {stop}"
    else:
        assert raw - tick < stop <= raw, f"a short's stop {raw} rounded to {stop}"


def first_valid_stop(side: Side, fill: Decimal, percent: Decimal, instrument: Instrument) -> Decimal | None:
    """By brute arithmetic: the stop nearest the requested distance that is no riskier than asked,
    on the tick, >= min_price and strictly on the protective side of the fill; None if none is."""
    tick, raw = instrument.tick_size, fill - side.sign * fill * percent / 100
    if side is Side.LONG:
        floor = max(raw, instrument.min_price)
        stop = (floor / tick).to_integral_value(ROUND_CEILING) * tick
        return stop if 0 < stop < fill else None
    stop = (raw / tick).to_integral_value(ROUND_FLOOR) * tick
    return stop if stop > fill and stop >= instrument.min_price else None


def check_initial_stop(side: Side, fill: Decimal, percent: Decimal, instrument: Instrument) -> None:
    try:
        stop = InitialStopPolicy(percent).stop_for(side, fill, instrument)
    except InvalidStop:
        event("refused")
        valid = first_valid_stop(side, fill, percent, instrument)
        assert valid is None, f"refused, yet {valid} is a valid stop for a {side.name} filled at {fill}"
        return
    event("placed")
    assert stop > 0 and stop >= instrument.min_price
    assert instrument.is_tick_multiple(stop), f"{stop} is off the tick {instrument.tick_size}"
    assert side.sign * (fill - stop) > 0, f"a {side.name}'s stop {stop} is on the wrong side of {fill}"
    assert side.sign * (fill - stop) <= fill * percent / 100, f"{stop} risks more than {percent}%"


@given(instrument=instruments(), side=sides, fill=fill_prices, percent=percents)
def test_the_initial_stop_is_valid_or_refused_only_when_none_fits(instrument, side, fill, percent):
    check_initial_stop(side, fill, percent, instrument)


@st.composite
def fills_near_a_min_price(draw: st.DrawFn) -> tuple:
    """An instrument whose min_price is many ticks (Binance BTCUSDT: tick 0.1, minPrice 556.80) and
    a fill just above it, where a percent stop may fall below min_price."""
    instrument = draw(instruments(min_price_ticks=st.integers(2, 10**4)))
    above = draw(st.integers(1, 10**4)) * instrument.tick_size
    return instrument, instrument.min_price + above


@example(case=(Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                          Decimal("556.8")), Decimal(560)), side=Side.LONG, percent=Decimal(2))
@given(case=fills_near_a_min_price(), side=sides, percent=percents)
def test_the_initial_stop_is_refused_only_when_none_fits_above_a_min_price(case, side, percent):
    instrument, fill = case
    check_initial_stop(side, fill, percent, instrument)


@st.composite
def trailing_cases(draw: st.DrawFn) -> tuple:
    instrument = draw(instruments())
    best, current = draw(tick_count(instrument)), draw(st.none() | tick_count(instrument))
    policy = TrailingStopPolicy(callback_percent=draw(percents), min_step_ticks=draw(st.integers(1, 5)))
    return draw(sides), best, current, instrument, policy


@given(case=trailing_cases())
def test_the_trailing_stop_never_loosens_and_moves_whenever_it_can(case):
    side, best, current, instrument, policy = case
    moved = policy.next_stop(side, best, current, instrument)
    target = policy.target(side, best, instrument)
    try:
        instrument.validate_stop(side, target, best)
        valid = True
    except InvalidStop:
        valid = False
    min_step = instrument.tick_size * policy.min_step_ticks
    worth_it = current is None or side.sign * (target - current) >= min_step
    event("moved" if moved is not None else "kept")
    if moved is None:
        assert not (valid and worth_it), f"{side.name}: kept {current} though {target} is a valid move"
        return
    assert moved == target
    instrument.validate_stop(side, moved, best)
    if current is not None:
        assert side.sign * (moved - current) >= 0, f"{side.name} stop loosened {current} -> {moved}"
        assert side.sign * (moved - current) >= min_step


aged_phase_lists = st.lists(st.builds(AgedPhase, st.integers(0, 4 * 3600), decimals_between("-1", "120")),
                            min_size=1, max_size=5).map(tuple)  # unsorted on purpose


@given(policy=st.builds(AgedExitPolicy, st.integers(0, 6 * 3600), aged_phase_lists,
                        st.integers(0, 5 * 3600)),
       instrument=instruments(), side=sides, entry=fill_prices,
       ages=st.lists(st.integers(0, 12 * 3600), min_size=2, max_size=8))
def test_aged_exit_phases_never_go_back_as_a_position_ages(policy, instrument, side, entry, ages):
    decisions = [policy.decision(side, entry, age, instrument) for age in sorted(ages)]
    phases = [0 if d is None else d.phase for d in decisions]
    for earlier, later in itertools.pairwise(phases):
        assert later >= earlier, f"aged phase went back from {earlier} to {later}"
    for age, decision in zip(sorted(ages), decisions, strict=True):
        if not policy.is_aged(age):
            assert decision is None
        elif age - policy.max_age_seconds >= policy.hard_limit_seconds:
            assert decision.phase == len(policy.phases) + 1 and decision.limit_price is None
        elif decision is not None:
            # the phase is the latest one started: no phase after it has started too
            over = age - policy.max_age_seconds
            assert policy.phases[decision.phase - 1].after_seconds <= over
            assert all(p.after_seconds > over for p in policy.phases[decision.phase:])
            assert decision.limit_price is None or decision.limit_price >= instrument.min_price
