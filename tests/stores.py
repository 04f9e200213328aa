"""The three stores a contract test runs on: put one of these first in a test class's bases, before
the contract, and it gives the ``store_url`` the contract's fixtures open."""

from __future__ import annotations

import pytest


class OnMemory:
    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"


class OnSQLite:
    @pytest.fixture
    def store_url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path}/warden.sqlite3"


@pytest.mark.postgres
class OnPostgres:
    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url
