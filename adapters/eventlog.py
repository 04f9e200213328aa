"""The portable event log: JSON Lines export and import (format in docs/event-log.md).

Line 1 is a header ``{"format": "warden-event-log", "version": 2}``; every following line is one
stored event in recorded order: ``{"originator_id", "originator_version", "topic", "state"}`` where
``state`` is the event's transcoded JSON (Decimals, enums and datetimes keep their type tags), so
import -> export reproduces the events byte for byte. The last line is the trailer,
``{"trailer": {"events": N, "sha256": HEX}}``: the number of event lines and the SHA-256 of every
line before the trailer (each ended by ``\n``, as written), so a file cut short or altered is
refused before anything is written.
Version 1 files (no trailer) are still read; they cannot prove they are complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from warden.adapters.store import SNAPSHOT_INTERVALS, WardenStore

FORMAT = "warden-event-log"
VERSION = 2
READS = (1, 2)  # versions this warden imports
HEADER = {"format": FORMAT, "version": VERSION}

T = TypeVar("T")
Track = Callable[[Iterable[T]], Iterable[T]]  # e.g. a progress bar (adapters/progress.py)


class EventLogError(ValueError):
    """A line of an event log that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class ImportResult:
    events: int
    aggregates: int
    snapshots: int
    version: int  # of the file's format; 1 could not be checked for completeness


def export_log(store: WardenStore, out: IO[str], *, track: Track | None = None) -> int:
    """Write the whole log to ``out``, trailer last; returns the number of events written."""
    digest, count = hashlib.sha256(), 0

    def write(line: str) -> None:
        text = line + "\n"
        digest.update(text.encode("utf8"))
        out.write(text)

    write(_dumps(HEADER))
    notifications = store.stored_notifications()
    for stored in track(notifications) if track else notifications:
        write(_dumps(_line_of(stored)))
        count += 1
    out.write(_dumps({"trailer": {"events": count, "sha256": digest.hexdigest()}}) + "\n")
    return count


def import_log(store: WardenStore, lines: Iterable[str | bytes], *,
               track: Track | None = None) -> ImportResult:
    """Validate every line (and the trailer) first, then append all events in one transaction: a
    bad line (named in the error), a wrong count or checksum, or a conflict with events already
    stored imports nothing."""
    log = LogReader(track(lines) if track else lines)
    stored = [event for _, event in _parse(store, log)]
    last_versions = {event.originator_id: event.originator_version for event in stored}
    if stored:
        try:
            store.recorder.insert_events(stored)
        except IntegrityError as e:
            raise EventLogError(f"events already in the store (import into an empty store): {e}") from None
    return ImportResult(len(stored), len(last_versions), _snapshot_long_histories(store, last_versions),
                        log.version)


def read_log(lines: Iterable[str | bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every event line. The header is checked first and the
    trailer (version 2) once the events are read: a caller must read to the end before it trusts
    what it got."""
    return iter(LogReader(lines))


class LogReader:
    """Iterates ``(line_number, record)`` over the event lines of a log, checking the header, each
    line's encoding and JSON, and the trailer's count and checksum. ``version`` is known once the
    header is read."""

    def __init__(self, lines: Iterable[str | bytes]) -> None:
        self.lines, self.version = lines, 0

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        numbered = enumerate(self.lines, start=1)
        first = next(numbered, None)
        if first is None:
            raise EventLogError("line 1: empty file, expected the warden-event-log header")
        digest = hashlib.sha256(_raw(first[1]))
        self.version = _version(_loads(first[1], 1))
        events, trailer, last = 0, None, 1
        for number, line in numbered:
            last = number
            text = _text(line, number)
            if trailer is not None:
                if text.strip():
                    raise EventLogError(f"line {number}: text after the trailer (line {trailer[0]})")
                continue
            if not text.strip():
                digest.update(_raw(line))
                continue
            record = _loads(text, number)
            if self.version >= 2 and "trailer" in record:
                trailer = (number, record["trailer"])
                continue
            digest.update(_raw(line))
            events += 1
            yield number, record
        if self.version >= 2:
            _check_trailer(trailer, events, digest.hexdigest(), last)


def _version(header: dict[str, Any]) -> int:
    if header.get("format") != FORMAT:
        raise EventLogError(f"line 1: not a warden event log (format {header.get('format')!r})")
    version = header.get("version")
    if version not in READS or isinstance(version, bool):
        raise EventLogError(f"line 1: unsupported event log version {version!r}, "
                            f"this warden reads versions {', '.join(map(str, READS))}")
    return version


def _check_trailer(trailer: tuple[int, Any] | None, events: int, sha256: str, last_line: int) -> None:
    if trailer is None:
        raise EventLogError(f"line {last_line + 1}: the trailer is missing: the file is truncated "
                            f"after line {last_line} ({events} events read)")
    number, claimed = trailer
    if not isinstance(claimed, dict) or not isinstance(claimed.get("events"), int):
        raise EventLogError(f"line {number}: a malformed trailer: {_short(claimed)}")
    if claimed["events"] != events:
        raise EventLogError(f"line {number}: the trailer counts {claimed['events']} events, "
                            f"the file holds {events}: events were lost or added")
    if claimed.get("sha256") != sha256:
        raise EventLogError(f"line {number}: the checksum of lines 1-{number - 1} does not match the "
                            f"trailer's: the file was altered after export")


def _parse(store: WardenStore,
           log: Iterable[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, StoredEvent]]:
    expected: dict[UUID, int] = {}
    for number, record in log:
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
        try:
            stored = StoredEvent(originator_id, version, topic, _dumps(state).encode("utf8"))
            store.mapper.to_domain_event(stored)
        except RecursionError:
            raise EventLogError(f"line {number}: the event nests too deeply to decode") from None
        except Exception as e:  # any decoding failure is this line's fault
            raise EventLogError(f"line {number}: cannot decode {topic}: {_short(e)}") from None
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


def _line_of(stored: Any) -> dict[str, Any]:
    return {"originator_id": str(stored.originator_id),
            "originator_version": stored.originator_version,
            "topic": stored.topic,
            "state": json.loads(stored.state)}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _raw(line: str | bytes) -> bytes:
    """The line's bytes as exported, ended by one ``\n`` whatever ended it when read (a reader that
    strips line ends, or a copy that made them ``\r\n``, does not change what is checked)."""
    raw = line if isinstance(line, bytes) else line.encode("utf8", "surrogatepass")
    return raw.rstrip(b"\r\n") + b"\n"


def _text(line: str | bytes, number: int) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf8")
    except UnicodeDecodeError as e:
        raise EventLogError(f"line {number}: not UTF-8 (byte 0x{line[e.start]:02x} at column "
                            f"{e.start + 1})") from None


def _loads(line: str | bytes, number: int) -> dict[str, Any]:
    try:
        value = json.loads(_text(line, number))
    except json.JSONDecodeError as e:
        raise EventLogError(f"line {number}: not valid JSON: {e}") from None
    except RecursionError:
        raise EventLogError(f"line {number}: nests too deeply to read") from None
    if not isinstance(value, dict):
        raise EventLogError(f"line {number}: expected a JSON object")
    return value


def _short(value: Any) -> str:
    text = " ".join(str(value).split())  # one line, whatever the message held
    return text if len(text) <= 200 else text[:200] + "..."
