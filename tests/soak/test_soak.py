"""The randomized fault soak (issue 9 item 8): seeded scenarios of signals on both venues, price
moves, the simulator's faults, SIGKILLs and PostgreSQL outages against `warden run`, each checked
against the venue's own record (tests/soak/checks.py).

`make test` runs the fixed set of seeds 1-20; `make soak` runs 1,000
(`WARDEN_SOAK_SCENARIOS`, from `WARDEN_SOAK_SEED`). A violation names its seed:
`make soak SOAK_SEED=<seed> SOAK_SCENARIOS=1` plays that scenario again.
"""

from __future__ import annotations

import os

import pytest

from tests.soak.harness import Outcome, run_soak

SCENARIOS = int(os.environ.get("WARDEN_SOAK_SCENARIOS", "20"))
SEED = int(os.environ.get("WARDEN_SOAK_SEED", "1"))

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120 + 60 * SCENARIOS)]


def _progress(outcome: Outcome) -> None:
    if outcome.violations or SCENARIOS > 20:
        state = "ok" if not outcome.violations else f"{len(outcome.violations)} violations, log {outcome.log}"
        print(f"seed {outcome.seed}: {outcome.elapsed_s:.1f} s {state}", flush=True)
        for v in outcome.violations:
            print(f"  [{v.check}] {v.detail}", flush=True)


def test_no_scenario_of_the_soak_breaks_a_promise():
    summary = run_soak(SCENARIOS, SEED, progress=_progress)
    print("\n" + summary.render())

    assert len(summary.outcomes) == SCENARIOS
    assert not summary.violations, summary.render()
