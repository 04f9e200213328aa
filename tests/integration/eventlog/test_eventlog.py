"""The JSONL event log: exact round trip, and clear errors that name the bad line."""

from __future__ import annotations

import io
import json

import pytest

from tests.builders import protected
from warden.adapters.eventlog import EventLogError, export_log, import_log
from warden.adapters.store import open_store


def exported(*positions) -> list[str]:
    store = open_store("memory://")
    store.save(*positions)
    out = io.StringIO()
    export_log(store, out)
    return out.getvalue().splitlines(keepends=True)


def test_the_header_names_the_format_and_version():
    assert json.loads(exported(protected())[0]) == {"format": "warden-event-log", "version": 1}


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda lines: lines.__setitem__(3, "{not json\n"), "line 4: not valid JSON"),
    (lambda lines: lines.__setitem__(0, '{"format": "other", "version": 1}\n'), "line 1: not a warden"),
    (lambda lines: lines.__setitem__(0, '{"format": "warden-event-log", "version": 9}\n'),
     "line 1: unsupported event log version 9"),
    (lambda lines: lines.pop(3), "line 4: .* version 4 follows 2"),
    (lambda lines: lines.insert(3, lines[2]), "line 4: .* version 2 follows 2"),
    (lambda lines: lines.__setitem__(2, lines[2].replace('"decimal_str"', '"no_such_type"')),
     "line 3: cannot decode warden.domain.events:EntryOrderPlaced"),
    (lambda lines: lines.__setitem__(2, lines[2].replace("warden.domain.events:EntryOrderPlaced",
                                                         "warden.domain.events:Nope")),
     "line 3: cannot decode warden.domain.events:Nope"),
    (lambda lines: lines.__setitem__(2, '{"originator_id": "x"}\n'), "line 3: malformed event record"),
])
def test_a_corrupt_line_is_named_and_nothing_is_imported(mutate, message):
    lines = exported(protected())
    mutate(lines)
    store = open_store("memory://")
    with pytest.raises(EventLogError, match=message):
        import_log(store, lines)
    assert store.recorder.max_notification_id() in (None, 0)


def test_importing_twice_into_the_same_store_is_refused():
    lines = exported(protected())
    store = open_store("memory://")
    import_log(store, lines)
    before = store.recorder.max_notification_id()
    with pytest.raises(EventLogError, match="already in the store"):
        import_log(store, [*lines[:-1], *exported(protected(signal_id="new"))[1:], lines[-1]])
    assert store.recorder.max_notification_id() == before  # all or nothing


def test_an_empty_file_is_an_error():
    with pytest.raises(EventLogError, match="line 1: empty file"):
        import_log(open_store("memory://"), [])
