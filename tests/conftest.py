"""Shared fixtures: stores of every kind and a real PostgreSQL server (see tests/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import pg

# The longest tests are handed out first: `make test` runs two pytest-xdist workers, and a long test
# that started last would be the whole run's tail.
LONGEST_FIRST = ("tests/soak/test_soak.py", "tests/e2e/test_crash_process.py",
                 "tests/e2e/test_bench_engine.py", "tests/integration/engine/test_store_outage.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))  # stable: else as collected


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


@pytest.fixture(scope="module")
def private_pg() -> Iterator[pg.PgServer]:
    """A throwaway cluster of the module's own, for tests that stop and start the server."""
    try:
        server = pg.private_cluster()
    except Exception as e:  # said plainly, never skipped
        pytest.fail(f"these tests need a throwaway PostgreSQL cluster (initdb/pg_ctl): {e}", pytrace=False)
    yield server
    pg.stop(server)
