"""The [intake] limits against bad traffic: read from the file, defaults when absent, and every bad
value named by its key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from warden.adapters.config import ConfigError, load_config


def intake(tmp_path, text: str):
    path = tmp_path / "warden.toml"
    path.write_text("[intake]\n" + text)
    return load_config(str(path), {}).intake


def test_the_limits_are_read_and_default_when_absent(tmp_path):
    assert intake(tmp_path, 'header_timeout_seconds = "0.5"\nmax_connections_per_source = 4\n') \
        .header_timeout_seconds == Decimal("0.5")
    defaults = intake(tmp_path, "")
    assert (defaults.unauthenticated_per_second, defaults.unauthenticated_burst) == (Decimal(1), 10)
    assert (defaults.header_timeout_seconds, defaults.body_timeout_seconds,
            defaults.idle_timeout_seconds) == (Decimal(5), Decimal(10), Decimal(30))
    assert (defaults.max_connections, defaults.max_connections_per_source) == (256, 32)


@pytest.mark.parametrize(("text", "key"), [
    ("header_timeout_seconds = 0", "intake.header_timeout_seconds"),
    ("body_timeout_seconds = 7200", "intake.body_timeout_seconds"),
    ("idle_timeout_seconds = -1", "intake.idle_timeout_seconds"),
    ("max_connections = 0", "intake.max_connections"),
    ("max_connections_per_source = 1.5", "intake.max_connections_per_source"),
    ("unauthenticated_per_second = 0", "intake.unauthenticated_per_second"),
    ("unauthenticated_burst = 0", "intake.unauthenticated_burst"),
])
def test_a_bad_limit_is_refused_by_its_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key):
        intake(tmp_path, text + "\n")
