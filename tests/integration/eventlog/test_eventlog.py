"""The JSONL event log: exact round trip, a trailer that a cut or altered file cannot satisfy, and
clear one-line errors that name the bad line, all before anything is written."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from tests.builders import protected
from warden.adapters.eventlog import EventLogError, export_log, import_log, read_log
from warden.adapters.store import open_store


def exported(*positions) -> list[str]:
    store = open_store("memory://")
    store.save(*positions)
    out = io.StringIO()
    export_log(store, out)
    return out.getvalue().splitlines(keepends=True)


def as_v1(lines: list[str]) -> list[str]:
    """What warden wrote before the trailer: header version 1, no trailer line."""
    return ['{"format":"warden-event-log","version":1}\n', *lines[1:-1]]


def refused(lines, message: str) -> EventLogError:
    store = open_store("memory://")
    with pytest.raises(EventLogError, match=message) as error:
        import_log(store, lines)
    assert store.recorder.max_notification_id() in (None, 0)  # nothing was written
    assert "\n" not in str(error.value)
    return error.value


def test_the_header_names_the_format_and_version_and_the_trailer_counts_and_hashes():
    lines = exported(protected())
    assert json.loads(lines[0]) == {"format": "warden-event-log", "version": 2}
    trailer = json.loads(lines[-1])["trailer"]
    assert trailer == {"events": len(lines) - 2,
                       "sha256": hashlib.sha256("".join(lines[:-1]).encode()).hexdigest()}


def test_a_file_cut_at_a_line_boundary_is_refused_naming_where_it_ends():
    lines = exported(protected(), protected(signal_id="second"))
    refused(lines[:-5], rf"line {len(lines) - 4}: the trailer is missing: the file is truncated after "
                        rf"line {len(lines) - 5}")


def test_a_file_missing_an_aggregates_last_events_is_refused_by_the_count():
    lines = exported(protected())
    refused([*lines[:-3], lines[-1]], rf"line {len(lines) - 2}: the trailer counts {len(lines) - 2} "
                                      rf"events, the file holds {len(lines) - 4}")


def test_an_altered_value_that_still_decodes_is_refused_by_the_checksum():
    lines = exported(protected())
    lines[3] = lines[3].replace('"decimal_str","_data_":"', '"decimal_str","_data_":"9', 1)
    refused(lines, rf"line {len(lines)}: the checksum of lines 1-{len(lines) - 1} does not match")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda lines: lines.__setitem__(3, "{not json\n"), "line 4: not valid JSON"),
    (lambda lines: lines.__setitem__(0, '{"format": "other", "version": 1}\n'), "line 1: not a warden"),
    (lambda lines: lines.__setitem__(0, '{"format": "warden-event-log", "version": 9}\n'),
     "line 1: unsupported event log version 9, this warden reads versions 1, 2"),
    (lambda lines: lines.pop(3), "line 4: .* version 4 follows 2"),
    (lambda lines: lines.insert(3, lines[2]), "line 4: .* version 2 follows 2"),
    (lambda lines: lines.__setitem__(2, lines[2].replace('"decimal_str"', '"no_such_type"')),
     "line 3: cannot decode warden.domain.events:EntryOrderPlaced"),
    (lambda lines: lines.__setitem__(2, lines[2].replace("warden.domain.events:EntryOrderPlaced",
                                                         "warden.domain.events:Nope")),
     "line 3: cannot decode warden.domain.events:Nope"),
    (lambda lines: lines.__setitem__(2, '{"originator_id": "x"}\n'), "line 3: malformed event record"),
    (lambda lines: lines.__setitem__(2, "[" * 100_000 + "]" * 100_000 + "\n"), "line 3: nests too deeply"),
    (lambda lines: lines.__setitem__(2, '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n"),
     "line 3: nests too deeply"),
    (lambda lines: lines.append('{"extra": 1}\n'), r"line \d+: text after the trailer"),
    (lambda lines: lines.__setitem__(-1, '{"trailer": "yes"}\n'), r"line \d+: a malformed trailer"),
])
def test_a_corrupt_line_is_named_and_nothing_is_imported(mutate, message):
    lines = exported(protected())
    mutate(lines)
    refused(lines, message)


def test_invalid_utf8_is_a_one_line_error_naming_the_line_and_column():
    lines = [line.encode() for line in exported(protected())]
    lines[4] = lines[4][:10] + b"\xff\xfe" + lines[4][10:]
    refused(lines, r"line 5: not UTF-8 \(byte 0xff at column 11\)")


def test_a_version_1_file_still_imports_and_says_it_could_not_be_checked():
    lines = exported(protected())
    store = open_store("memory://")
    result = import_log(store, as_v1(lines))
    assert (result.events, result.version) == (len(lines) - 2, 1)
    out = io.StringIO()
    export_log(store, out)
    assert out.getvalue().splitlines(keepends=True)[1:-1] == lines[1:-1]  # the same events, now v2


def test_read_log_yields_the_events_and_checks_the_trailer_at_the_end():
    lines = exported(protected())
    assert [n for n, _ in read_log(lines)] == list(range(2, len(lines)))
    with pytest.raises(EventLogError, match="trailer is missing"):
        list(read_log(lines[:-1]))


def test_importing_twice_into_the_same_store_is_refused():
    lines = exported(protected())
    store = open_store("memory://")
    import_log(store, lines)
    before = store.recorder.max_notification_id()
    with pytest.raises(EventLogError, match="already in the store"):
        import_log(store, as_v1([*lines[:-1], *exported(protected(signal_id="new"))[1:]]))
    assert store.recorder.max_notification_id() == before  # all or nothing


def test_an_empty_file_is_an_error():
    refused([], "line 1: empty file")


def test_line_ends_changed_by_a_copy_do_not_count_as_an_alteration():
    lines = exported(protected())
    crlf = [line.replace("\n", "\r\n").encode() for line in lines]
    assert import_log(open_store("memory://"), crlf).events == len(lines) - 2
    assert import_log(open_store("memory://"), [line.rstrip("\n") for line in lines]).events == len(lines) - 2
