"""A log written before the package was named ``warden`` still imports, replays and projects.

`tests/fixtures/demo-85d6b9c.jsonl` is ``warden events export`` of ``warden demo`` run at commit
85d6b9c, when topics were ``domain.events:...`` and ``domain.position:Position``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from warden.adapters.eventlog import export_log, import_log
from warden.adapters.readmodel_sql import open_readmodel
from warden.adapters.store import open_store
from warden.domain import events as ev
from warden.domain.lifecycle import Status
from warden.domain.position import Position
from warden.domain.values import PhantomPolicy, StopPurpose
from warden.projections.positions_view import PositionsView, get_position
from warden.projections.runner import ProjectionRunner
from warden.projections.timeline import build_timeline

LEGACY = Path(__file__).parents[2] / "fixtures" / "demo-85d6b9c.jsonl"


def imported():
    store = open_store("memory://")
    with LEGACY.open(encoding="utf8") as lines:
        import_log(store, lines)
    return store


def test_the_fixture_uses_the_old_topics():
    text = LEGACY.read_text(encoding="utf8")
    assert '"topic":"domain.events:EntryFilled"' in text
    assert "warden.domain" not in text


def test_a_legacy_log_imports_and_exports_its_events_unchanged_as_version_2():
    out = io.StringIO()
    export_log(imported(), out)
    legacy, again = LEGACY.read_text(encoding="utf8").splitlines(), out.getvalue().splitlines()
    assert legacy[0] == '{"format":"warden-event-log","version":1}'  # no trailer in version 1
    assert again[0] == '{"format":"warden-event-log","version":2}'
    assert again[1:-1] == legacy[1:]
    assert json.loads(again[-1])["trailer"]["events"] == len(legacy) - 1


def test_every_legacy_position_replays_to_todays_classes():
    store = imported()
    created = ("domain.events:SignalAccepted", "domain.events:PositionAdopted")
    ids = {n.originator_id for n in store.stored_notifications() if n.topic in created}
    found = []
    for position_id in ids:
        position = store.repository.get(position_id)
        assert isinstance(position, Position)
        history = store.history(position_id)
        timeline = build_timeline(history)
        assert len(timeline.rows) == len(history) == position.version
        found.append((position.symbol, position.status, position.version))
    assert sorted(found, key=str) == sorted([
        ("10000SATSUSDT", Status.PROTECTED, 15), ("BTCUSDT", Status.PROTECTED, 10),
        ("BTCUSDT", Status.PROTECTED, 14), ("ETHUSDT", Status.CLOSED, 9),
        ("ETHUSDT", Status.CLOSED, 13), ("SHIB1000USDT", Status.CLOSED, 24)], key=str)


def test_kinds_stored_as_plain_strings_read_back_as_enums():
    """85d6b9c wrote a stop's purpose and a phantom's action as strings; they upcast to enums."""
    store = imported()
    text = LEGACY.read_text(encoding="utf8")
    assert '"purpose":"initial"' in text and '"action":"adopt"' in text
    events = [e for i in {n.originator_id for n in store.stored_notifications()}
              for e in store.history(i)]
    purposes = [e.purpose for e in events if isinstance(e, ev.StopLossRequested)]
    actions = [e.action for e in events if isinstance(e, ev.PhantomDetected)]
    assert purposes and all(isinstance(p, StopPurpose) for p in purposes)
    assert StopPurpose.INITIAL in purposes and StopPurpose.TRAIL in purposes
    assert actions == [PhantomPolicy.ADOPT]


def test_the_read_model_projects_a_legacy_log():
    store = imported()
    db = open_readmodel("sqlite:///:memory:")
    runner = ProjectionRunner(store, db, PositionsView(store))
    runner.setup()
    runner.catch_up()
    position_id = next(n.originator_id for n in store.stored_notifications()
                       if n.topic == "domain.events:SignalAccepted")
    row = get_position(db, position_id)
    assert row is not None and row.version == store.repository.get(position_id).version
