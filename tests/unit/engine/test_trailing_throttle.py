from __future__ import annotations

from warden.engine.trailing import DECISIONS_KEPT, _Watch


def test_a_long_trail_keeps_only_its_latest_decision_latencies():
    throttle = _Watch()
    for n in range(DECISIONS_KEPT * 3):
        throttle.decisions.append(float(n))
    assert len(throttle.decisions) == DECISIONS_KEPT
    assert list(throttle.decisions) == [float(n) for n in range(DECISIONS_KEPT * 2, DECISIONS_KEPT * 3)]
