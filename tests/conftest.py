"""Shared fixtures: stores of every kind and a real PostgreSQL server (see tests/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import pg


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    try:
        server = pg.find_or_start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    pg.stop(server)


@pytest.fixture
def pg_url(pg_server: pg.PgServer) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped after the test."""
    with pg_server.database() as url:
        yield url
