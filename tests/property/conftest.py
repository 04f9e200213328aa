"""Hypothesis profiles for the property suite.

- ``ci`` (the default, and what CI=true runs): derandomized, so a run is repeatable, and sized for a
  fast suite.
- ``thorough``: many more and longer examples, for a nightly job or before touching the domain:
  ``HYPOTHESIS_PROFILE=thorough pytest tests/property``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci", max_examples=60, stateful_step_count=40, derandomize=True, deadline=None,
    database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow],
    # no explain phase: on a failing machine run it doubles the report time (two minutes more)
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])
settings.register_profile(
    "thorough", max_examples=2000, stateful_step_count=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])

# An explicit HYPOTHESIS_PROFILE wins (a nightly CI job may ask for thorough); otherwise ci.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")
