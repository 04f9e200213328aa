"""JSON transcodings for the domain's value types, so they round-trip exactly through any store.

The names written into stored events (``enum:Side``, ``Instrument``, ...) are part of the stored
format: keep them when a class is renamed (pass the old name explicitly).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding

from warden.domain.instrument import Instrument
from warden.domain.lifecycle import Intent, Status
from warden.domain.reports import ClosingOrder, FillReport, PositionReport, PriceAnswer
from warden.domain.values import (
    CloseBasis,
    CloseReason,
    ExitAction,
    OrderOrigin,
    OrderSide,
    Origin,
    PhantomPolicy,
    PriceSource,
    ReportSource,
    Side,
    StopPurpose,
)


class EnumAsValue(Transcoding):
    """An `Enum` member as its value, tagged with the enum's name."""

    def __init__(self, enum: type[Enum], name: str | None = None) -> None:
        self.type = enum
        self.name = name or f"enum:{enum.__name__}"
        self._members = {member.value: member for member in enum}

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        try:
            return self._members[data]  # what self.type(data) returns, without Enum.__call__
        except (KeyError, TypeError):
            return self.type(data)  # raises as before


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


ENUMS = (Side, PriceSource, Origin, CloseReason, ReportSource, Status, OrderSide, StopPurpose,
         PhantomPolicy, Intent, CloseBasis, OrderOrigin, ExitAction)
VALUE_OBJECTS = (Instrument, PositionReport, FillReport, ClosingOrder, PriceAnswer)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for enum in ENUMS:
        transcoder.register(EnumAsValue(enum))
    for cls in VALUE_OBJECTS:
        transcoder.register(DataclassAsDict(cls))


class _NotPlainJSON(Exception):
    """Raised inside `FastJSONTranscoder` for a value only the stdlib json module handles exactly."""


# orjson parses integers outside [-2**63, 2**64) as floats, silently; any float out there (a big
# integer, or a float literal that large) is read again by the stdlib decoder
_INT_RANGE = (-(2.0**63), 2.0**64)


class FastJSONTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s stored format, written and read with orjson.

    orjson would serialize enums, UUIDs, datetimes and dataclasses itself, untagged, so values are
    first rewritten into plain JSON types with the same ``{"_type_": name, "_data_": ...}`` wrappers
    the stdlib transcoder writes, using the same registered transcodings; decoding parses with
    orjson and then replaces each wrapper bottom-up, as the stdlib ``object_hook`` does. Anything
    the two libraries treat differently falls back to the stdlib path for that whole value, so
    the bytes written are the stdlib's: subclasses of built-in types, non-str dict keys, floats
    in exponent notation or not finite, and integers beyond 64 bits on write; ``NaN``,
    ``Infinity``, lone surrogates and integers beyond 64 bits on read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._decoders: dict[str, Callable[[Any], Any]] = {}

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._plain(obj))
        except (_NotPlainJSON, orjson.JSONEncodeError):
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._untag_list([orjson.loads(data)])[0]  # a list, to check any value alike
        except (orjson.JSONDecodeError, _NotPlainJSON):
            return super().decode(data)

    def _plain(self, o: Any) -> Any:
        t = type(o)
        if t is str or t is int or t is bool or o is None:
            return o
        if t is dict:
            plain = {}
            for key, value in o.items():
                if type(key) is not str:
                    raise _NotPlainJSON
                plain[key] = self._plain(value)
            return plain
        if t is list or t is tuple:
            return [self._plain(value) for value in o]
        if t is float:
            # outside this range orjson spells floats differently (1e-7 for 1e-07) or writes
            # NaN and Infinity as null; inside it both write Python's repr
            if o != 0 and not 1e-4 <= abs(o) < 1e16:
                raise _NotPlainJSON
            return o
        transcoding = self.types.get(t)
        if transcoding is None:  # a subclass of a built-in, or unregistered: let the stdlib decide
            raise _NotPlainJSON
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(o))}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        # the stdlib transcodings' decode, minus a method call and an assert per value
        direct = {DecimalAsStr: Decimal, DatetimeAsISO: datetime.fromisoformat}.get(type(transcoding))
        self._decoders[transcoding.name] = direct or transcoding.decode

    def _untag(self, o: dict[str, Any]) -> Any:
        """Replace the wrappers in a parsed dict, innermost first, as the stdlib ``object_hook``
        would (the one hot loop of decoding: about 8 dicts per warden event)."""
        if len(o) == 2 and "_type_" in o and "_data_" in o:
            data = o["_data_"]
            if type(data) is not str:  # the common case; anything else is checked like any value
                data = self._untag_list([data])[0]
            decode = self._decoders.get(o["_type_"])
            return self._decode_obj(o) if decode is None else decode(data)
        for key, value in o.items():
            if type(value) is dict:
                o[key] = self._untag(value)
            elif type(value) is list:
                o[key] = self._untag_list(value)
            elif type(value) is float and not _INT_RANGE[0] < value < _INT_RANGE[1]:
                raise _NotPlainJSON
        return o

    def _untag_list(self, items: list[Any]) -> list[Any]:
        for i, value in enumerate(items):
            if type(value) is dict:
                items[i] = self._untag(value)
            elif type(value) is list:
                items[i] = self._untag_list(value)
            elif type(value) is float and not _INT_RANGE[0] < value < _INT_RANGE[1]:
                raise _NotPlainJSON
        return items
