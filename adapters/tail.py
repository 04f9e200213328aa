"""`warden events tail`: the log's newest events, one line each, and with ``follow`` every event
recorded after them, as it is recorded (polling the store: SQLite or PostgreSQL, written by another
process; a ``memory://`` store is private to its process and cannot be tailed).

A line: ``<notification id>  <time>  <event>  <aggregate id, first 8 hex>  v<version>  <details>``.
The aggregate prefix is what ``warden replay`` takes. An event this warden cannot decode (written
by a newer one) is still shown, with its topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from warden.adapters.store import WardenStore
from warden.projections.timeline import details

MAX_DETAILS = 240  # characters of an event's fields on its line


def tail(store: WardenStore, *, last: int, follow: bool, interval: float, echo: Callable[[str], None],
         sleep: Callable[[float], None] = time.sleep) -> None:
    """Print the ``last`` events, then (``follow``) the new ones every ``interval`` seconds, until
    interrupted (KeyboardInterrupt is the caller's to catch)."""
    start = max(1, (store.recorder.max_notification_id() or 0) - last + 1)
    while True:
        for notification in store.stored_notifications(start=start):
            echo(line(store, notification))
            start = notification.id + 1
        if not follow:
            return
        sleep(interval)


def line(store: WardenStore, notification: Any) -> str:
    head = f"{notification.id:>7}"
    aggregate = f"{notification.originator_id.hex[:8]}  v{notification.originator_version}"
    try:
        event = store.mapper.to_domain_event(notification)
    except Exception as e:  # shown, not fatal: a newer warden's event, or a corrupt row
        return f"{head}  {'?':<32}  {notification.topic}  {aggregate}  (cannot decode: {type(e).__name__})"
    shown = " ".join(details(event).split())  # one line, whatever a field held
    if len(shown) > MAX_DETAILS:
        shown = shown[:MAX_DETAILS] + "..."
    time_ = event.timestamp.isoformat(timespec="milliseconds")
    return f"{head}  {time_:<32}  {type(event).__name__:<22}  {aggregate}  {shown}"
