"""The shipped example logs (examples/), read as `warden report` and `warden whatif` read them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from warden.adapters.config import load_policy_settings, policy_config
from warden.adapters.eventlog import import_log
from warden.adapters.store import open_store
from warden.engine.context import EngineConfig
from warden.projections.recorded import RecordedLog, read_recorded

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def read_recorded_file(path: Path) -> RecordedLog:
    return read_recorded(events_of_file(path))


def events_of_file(path: Path) -> list:
    store = open_store("memory://")
    with open(path, encoding="utf8") as f:
        import_log(store, f)
    return list(store.all_events())


def example_events(name: str) -> list:
    return events_of_file(EXAMPLES / f"{name}.jsonl")


def read_example(name: str) -> RecordedLog:
    return read_recorded_file(EXAMPLES / f"{name}.jsonl")


def policy(**overrides: str) -> EngineConfig:
    """The policy the examples were recorded with, with ``overrides``."""
    return policy_config(load_policy_settings(EXAMPLES / "policy.toml", overrides))


@pytest.fixture
def example() -> Callable[[str], RecordedLog]:
    return read_example
