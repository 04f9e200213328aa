"""JSON transcodings for the domain's value types, so they round-trip exactly through any store.

The names written into stored events (``enum:Side``, ``Instrument``, ...) are part of the stored
format: keep them when a class is renamed (pass the old name explicitly).
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.instrument import Instrument
from domain.lifecycle import Status
from domain.reports import PositionReport
from domain.values import CloseReason, Origin, PriceSource, ReportSource, Side


class EnumAsValue(Transcoding):
    """An `Enum` member as its value, tagged with the enum's name."""

    def __init__(self, enum: type[Enum], name: str | None = None) -> None:
        self.type = enum
        self.name = name or f"enum:{enum.__name__}"

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass value object as a dict of its fields (nested values transcode too)."""

    def __init__(self, cls: type, name: str | None = None) -> None:
        self.type = cls
        self.name = name or cls.__name__
        self._fields = tuple(f.name for f in dataclasses.fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


ENUMS = (Side, PriceSource, Origin, CloseReason, ReportSource, Status)
VALUE_OBJECTS = (Instrument, PositionReport)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for enum in ENUMS:
        transcoder.register(EnumAsValue(enum))
    for cls in VALUE_OBJECTS:
        transcoder.register(DataclassAsDict(cls))
