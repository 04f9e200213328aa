"""The service keeps the positions read model current, and a restart finds open positions in it."""

from __future__ import annotations

import pytest

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_service import eventually
from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.service import WardenService
from warden.adapters.store import open_store
from warden.domain.lifecycle import Status
from warden.projections.positions_view import PositionsView, get_position, open_positions
from warden.projections.runner import ProjectionRunner
from warden.projections.supervisor import Supervisor


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/warden.sqlite3"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    return open_store(store_url)


async def test_a_restart_resumes_the_open_positions_listed_by_the_read_model(make_engine, store, store_url):
    db = open_readmodel(store_url)
    runner = ProjectionRunner(store, db, PositionsView(store), poll_interval=0.05)
    ids = lambda: [row.id for row in open_positions(db)]  # noqa: E731
    engine = await make_engine(start=False, open_position_ids=ids)
    service = WardenService(engine, [], [], supervisor=Supervisor([runner]), tick_interval=0.2)
    await service.start()
    outcome = await engine.submit(signal("view-1"))
    closed = await engine.submit(signal("view-2", quantity="abc"))
    await engine.idle()
    await eventually(lambda: (row := get_position(db, outcome.position_id)) is not None
                     and row.status is Status.PROTECTED)
    assert closed.status == "rejected"
    assert service.health()["projection_lag"] == {runner.name: 0}
    await service.stop(grace=1)

    restarted = await make_engine(open_position_ids=ids)

    assert list(restarted.positions) == [outcome.position_id]
    assert restarted.positions[outcome.position_id].status is Status.PROTECTED
