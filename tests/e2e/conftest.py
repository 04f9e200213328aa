"""Fixtures of the end-to-end tests: the simulator and a configuration, as a user would run them."""

from tests.e2e.processes import config, simulator

__all__ = ["config", "simulator"]
