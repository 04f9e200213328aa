"""Hypothesis strategies for warden's domain values: ticks, instruments, prices and policies.

Prices and quantities are built as integer multiples of a power of ten (or of the tick), so they are
exact `Decimal`s that shrink towards small, readable values.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from warden.domain.instrument import Instrument
from warden.domain.policies import AgedExitPolicy, AgedPhase, InitialStopPolicy, TrailingStopPolicy
from warden.domain.values import Side

# From 0.0000001 (10000SATS-like) to 0.5; the first entry is what a failing example shrinks to.
TICKS = tuple(sorted(
    {Decimal(m).scaleb(-k) for m in (1, 2, 5, 25) for k in range(1, 8)
     if Decimal("0.0000001") <= Decimal(m).scaleb(-k) <= Decimal("0.5")},
    key=lambda tick: (tick != Decimal("0.1"), tick)))
QTY_STEPS = (Decimal("0.001"), Decimal("0.1"), Decimal(1), Decimal(100))

sides = st.sampled_from(Side)
ticks = st.sampled_from(TICKS)


def decimals_between(low: str, high: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places,
                       allow_nan=False, allow_infinity=False)


# Percent parameters of the policies and the signal overrides: the open interval (0, 100).
percents = decimals_between("0.01", "99.99")
stop_percents = decimals_between("0.1", "20")
trailing_percents = decimals_between("0.1", "5")

# Any positive price, from 1e-12 to 1e12, with up to twelve decimals.
positive_prices = st.builds(lambda n, k: Decimal(n).scaleb(-k),
                            st.integers(1, 10**12), st.integers(0, 12))


ONE_TICK = st.just(1)


@st.composite
def instruments(draw: st.DrawFn, min_price_ticks: st.SearchStrategy[int] = ONE_TICK) -> Instrument:
    """A valid instrument; ``min_price`` is a multiple of the tick (``min_price_ticks`` of them)."""
    tick = draw(ticks)
    qty_step = draw(st.sampled_from(QTY_STEPS))
    return Instrument("TESTUSDT", tick, qty_step, qty_step * draw(st.integers(1, 5)),
                      tick * draw(min_price_ticks))


initial_stop_policies = st.builds(InitialStopPolicy, stop_percents)
trailing_policies = st.builds(TrailingStopPolicy, trailing_percents, trailing_percents,
                              st.integers(1, 3))
aged_phase_lists = st.lists(
    st.builds(AgedPhase, st.integers(0, 4 * 3600), decimals_between("-1", "5")),
    min_size=1, max_size=4).map(lambda phases: tuple(sorted(phases, key=lambda p: p.after_seconds)))
aged_policies = st.builds(AgedExitPolicy, st.integers(60, 6 * 3600), aged_phase_lists,
                          st.integers(0, 4 * 3600))
