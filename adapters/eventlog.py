"""The portable event log: JSON Lines export and import (format in docs/event-log.md).

Line 1 is a header ``{"format": "warden-event-log", "version": 1}``; every other line is one stored
event in recorded order: ``{"originator_id", "originator_version", "topic", "state"}`` where
``state`` is the event's transcoded JSON (Decimals, enums and datetimes keep their type tags), so
import -> export reproduces the file byte for byte and the decoded events are identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from warden.adapters.store import SNAPSHOT_INTERVALS, WardenStore

FORMAT = "warden-event-log"
VERSION = 1
HEADER = {"format": FORMAT, "version": VERSION}


class EventLogError(ValueError):
    """A line of an event log that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class ImportResult:
    events: int
    aggregates: int
    snapshots: int


def export_log(store: WardenStore, out: IO[str]) -> int:
    """Write the whole log to ``out``; returns the number of events written."""
    out.write(_dumps(HEADER) + "\n")
    count = 0
    for stored in store.stored_notifications():
        out.write(_dumps(_line_of(store, stored)) + "\n")
        count += 1
    return count


def import_log(store: WardenStore, lines: Iterable[str]) -> ImportResult:
    """Validate every line first, then append all events in one transaction: a bad line (named in
    the error) or a conflict with events already stored imports nothing."""
    stored = [event for _, event in _parse(store, lines)]
    last_versions = {event.originator_id: event.originator_version for event in stored}
    if stored:
        try:
            store.recorder.insert_events(stored)
        except IntegrityError as e:
            raise EventLogError(f"events already in the store (import into an empty store): {e}") from None
    return ImportResult(len(stored), len(last_versions), _snapshot_long_histories(store, last_versions))


def read_log(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every event line after checking the header."""
    iterator = iter(enumerate(lines, start=1))
    first = next(iterator, None)
    if first is None:
        raise EventLogError("line 1: empty file, expected the warden-event-log header")
    header = _loads(first[1], 1)
    if header.get("format") != FORMAT:
        raise EventLogError(f"line 1: not a warden event log (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise EventLogError(f"line 1: unsupported event log version {header.get('version')!r}, "
                            f"this warden reads version {VERSION}")
    for number, text in iterator:
        if text.strip():
            yield number, _loads(text, number)


def _parse(store: WardenStore, lines: Iterable[str]) -> Iterator[tuple[int, StoredEvent]]:
    expected: dict[UUID, int] = {}
    for number, record in read_log(lines):
        try:
            originator_id = UUID(record["originator_id"])
            version = record["originator_version"]
            topic = record["topic"]
            state = record["state"]
            if not isinstance(version, int) or not isinstance(topic, str) or not isinstance(state, dict):
                raise TypeError("originator_version must be an int, topic a str, state an object")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise EventLogError(f"line {number}: malformed event record: {e}") from None
        if version != expected.get(originator_id, 0) + 1:
            raise EventLogError(f"line {number}: {originator_id} version {version} follows "
                                f"{expected.get(originator_id, 0)}; the log has a gap or a duplicate")
        expected[originator_id] = version
        stored = StoredEvent(originator_id, version, topic, _dumps(state).encode("utf8"))
        try:
            store.mapper.to_domain_event(stored)
        except Exception as e:  # any decoding failure is this line's fault
            raise EventLogError(f"line {number}: cannot decode {topic}: {e}") from None
        yield number, stored


def _snapshot_long_histories(store: WardenStore, versions: dict[UUID, int]) -> int:
    """Imported aggregates get the snapshots that live saving would have taken."""
    shortest = min(SNAPSHOT_INTERVALS.values())
    taken = 0
    for originator_id, version in versions.items():
        if version < shortest:
            continue
        interval = SNAPSHOT_INTERVALS.get(type(store.repository.get(originator_id)))
        if interval and version >= interval:
            store.take_snapshot(originator_id, version=version - version % interval)
            taken += 1
    return taken


def _line_of(store: WardenStore, stored: StoredEvent) -> dict[str, Any]:
    return {"originator_id": str(stored.originator_id),
            "originator_version": stored.originator_version,
            "topic": stored.topic,
            "state": json.loads(stored.state)}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise EventLogError(f"line {number}: not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise EventLogError(f"line {number}: expected a JSON object")
    return value
