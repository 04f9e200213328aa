"""Structured JSON logs: one object per line, secrets redacted, position id and event on every
line that concerns a position.

`configure_logging` installs `JsonFormatter`, which replaces every configured secret value with
``***`` wherever it would appear (message, arguments, context fields, a logged exception's
traceback, which it prints whole).
`EventLogger` is an engine listener that logs each recorded event with its position id.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from warden.projections.timeline import details

CONTEXT_FIELDS = ("position_id", "event", "venue", "account", "symbol", "status")


def secret_forms(secrets: Iterable[str]) -> list[str]:
    """What to look for: each secret as it is and as it would appear inside a URL, longest first
    (a longer one may contain a shorter). Values under 4 characters are not secrets worth the name."""
    found = {s for s in secrets if s and len(s) >= 4}
    found |= {quote(s, safe="") for s in found}
    return sorted(found, key=len, reverse=True)


def redact(text: str, forms: Iterable[str]) -> str:
    for secret in forms:
        text = text.replace(secret, "***")
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Every configured secret is replaced by ``***`` in every field,
    the traceback of a logged exception included (``"error"``); a record keeps its ``exc_info``,
    so other handlers still see the exception."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = secret_forms(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = str(getattr(record, name))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps({key: redact(value, self.secrets) for key, value in line.items()},
                          ensure_ascii=False)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class EventLogger:
    """Log every recorded event: ``{"msg": "StopLossMoved ...", "position_id": ..., "event": ...}``."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("warden.events")

    def __call__(self, recordings: list[Any]) -> None:
        for recording in recordings:
            event = recording.domain_event
            name = type(event).__name__
            self.log.info("%s %s", name, details(event),
                          extra={"position_id": event.originator_id, "event": name})
