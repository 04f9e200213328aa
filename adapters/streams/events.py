"""What the stream layer hands to the engine besides the domain's reports.

A private stream yields `PositionReport`, `OrderReport` and `FillReport` (each with its raw venue
payload), plus the items here: connection changes (`StreamStatus`), the REST `PositionSnapshot`
taken after every (re)connect, and a `StreamRejection` for every frame that could not be
understood -- a garbage frame is evidence to record, never a reason for the stream to die.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from warden.domain.reports import FillReport, OrderReport, PositionReport
from warden.domain.values import PriceSource


class Connection(Enum):
    CONNECTING = "connecting"      # dialing, authenticating, subscribing, taking the REST snapshot
    CONNECTED = "connected"        # subscribed and resynced: reports flow and the gap is repaired
    DISCONNECTED = "disconnected"  # the connection broke; the feed is reconnecting
    RESTARTING = "restarting"      # the session ended or went quiet; a new one starts after a backoff


@dataclass(frozen=True)
class StreamStatus:
    feed: str
    state: Connection
    attempt: int  # 0 for the first connection, then one more per reconnect
    reason: str = ""


@dataclass(frozen=True)
class PositionSnapshot:
    """Every open position by REST, taken after the stream was (re)subscribed.

    A symbol absent here is flat: updates lost while disconnected are repaired by this snapshot.
    """

    feed: str
    attempt: int
    positions: tuple[PositionReport, ...]


@dataclass(frozen=True)
class StreamRejection:
    """A frame (or one item of it) that is not a valid report.

    Parsers give the whole ``raw_text``; the feed passes on a compact copy (`compact`): the first
    characters, the frame's ``size`` in bytes and ``sha256``, and ``unrecorded``, the rejections it
    counted but did not pass on since the previous one, by kind. A summary of those alone has no
    frame: ``size`` is None."""

    feed: str
    reason: str
    raw_text: str
    size: int | None = 0
    sha256: str = ""
    unrecorded: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The reason's first word (``json``, ``shape``, ``value``...), for counting."""
        return self.reason.partition(":")[0]

    def compact(self, unrecorded: dict[str, int], head: int = 256) -> StreamRejection:
        data = self.raw_text.encode("utf-8", "surrogatepass")
        start = self.raw_text[:head].encode("utf-8", "backslashreplace").decode()  # storable text
        return StreamRejection(self.feed, self.reason, start, len(data), hashlib.sha256(data).hexdigest(),
                               unrecorded)


@dataclass(frozen=True)
class PriceTick:
    venue: str
    symbol: str
    price: Decimal
    source: PriceSource  # MARK or TICKER
    time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    arrived: float | None = field(default=None, compare=False)  # monotonic: when its frame came in


Report = PositionReport | OrderReport | FillReport
StreamEvent = Report | StreamStatus | PositionSnapshot | StreamRejection
