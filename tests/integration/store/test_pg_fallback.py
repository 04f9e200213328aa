"""Where no PostgreSQL server runs, tests/pg.py starts a throwaway cluster: prove that path works."""

from __future__ import annotations

import pytest

from tests import pg
from tests.builders import protected
from warden.adapters.store import open_store

pytestmark = pytest.mark.postgres


def test_a_throwaway_cluster_serves_a_real_store_and_is_removed():
    server = pg._start_throwaway()  # the local initdb/pg_ctl, on a free port, as the postgres user
    try:
        assert pg._reachable(server) is None
        with server.database() as url:
            store = open_store(url)
            position = protected()
            store.save(position)
            assert store.repository.get(position.id).state() == position.state()
            store.close()
    finally:
        pg.stop(server)
    assert pg._reachable(server) is not None  # stopped
