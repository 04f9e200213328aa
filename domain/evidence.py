"""Outside payloads kept as evidence in events, made safe to store and read back.

The stored form tags typed values as ``{"_type_": name, "_data_": value}``. A payload from outside
(a signal body, a venue message) that happens to contain a ``_type_`` key would be read back as
such a tag and could make its aggregate unreadable. `evidence` copies the payload with that key
renamed, non-string keys turned into strings and a non-object wrapped, so every event stays readable.
"""

from __future__ import annotations

from typing import Any

TAG = "_type_"
ESCAPED = "_type_ (escaped)"
MAX_REPR = 4096


def evidence(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return {"payload": repr(raw)[:MAX_REPR]}
    return _clean(raw)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {(ESCAPED if key == TAG else str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
