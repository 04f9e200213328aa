"""Fault injection for the simulator: rules that make the venues misbehave on purpose.

A `Fault` is a rule with a kind, an optional venue and path filter, and an optional use count
(`times`; None means until cleared). The HTTP middleware and the venue surfaces consult the
`FaultBook` at the points where each kind bites. One-shot actions (drop websockets, expire a
listenKey) live on the control API instead, since they are events, not standing conditions.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import asdict, dataclass, field


class FaultKind(enum.Enum):
    STALE_FILL = "stale_fill"              # order/execution queries hide the fill for `seconds`
    REJECT_STOP = "reject_stop"            # stop-loss placement answered with `code`/`message`
    HTTP_ERROR = "http_error"              # REST answers with HTTP `status` (default 503)
    HANG = "hang"                          # REST answer delayed by `seconds`
    RATE_LIMIT = "rate_limit"              # Bybit retCode 10006, Binance HTTP 429 -1003
    PUSH_DELAY = "push_delay"              # websocket pushes delayed by `seconds`
    PUSH_DUPLICATE = "push_duplicate"      # every push sent twice
    PUSH_REORDER = "push_reorder"          # pushes held in groups of `batch`, sent reversed
    PUSH_DROP = "push_drop"                # pushes silently lost
    MISSING_AUTH_ACK = "missing_auth_ack"  # Bybit private ws auth is never acknowledged
    MISSING_PONG = "missing_pong"          # Bybit text ping is never answered


@dataclass
class Fault:
    kind: FaultKind
    venue: str | None = None       # "bybit", "binance" or None for both
    path: str | None = None        # substring of the request path (REST) or ws topic
    times: int | None = None       # uses left; None = until cleared
    seconds: float = 0.0
    status: int = 503
    code: int | None = None
    message: str = ""
    batch: int = 2
    after: bool = False            # HANG: process the request first, then withhold the answer
    id: int = 0
    used: int = field(default=0)

    def applies(self, venue: str | None, path: str | None) -> bool:
        if self.venue is not None and venue is not None and self.venue != venue:
            return False
        return self.path is None or (path is not None and self.path in path)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Fault:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__
                 and k not in ("id", "used")}
        known["kind"] = FaultKind(str(data["kind"]))
        return cls(**known)  # type: ignore[arg-type]


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault) -> Fault:
        fault.id = next(self._ids)
        self._faults.append(fault)
        return fault

    def inject(self, kind: FaultKind | str, **options: object) -> Fault:
        return self.add(Fault(FaultKind(kind), **options))  # type: ignore[arg-type]

    def clear(self, kind: FaultKind | str | None = None, venue: str | None = None) -> int:
        keep = [f for f in self._faults
                if (kind is not None and f.kind is not FaultKind(kind))
                or (venue is not None and f.venue not in (None, venue))]
        removed = len(self._faults) - len(keep)
        self._faults = keep
        return removed

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def peek(self, kind: FaultKind, venue: str | None, path: str | None = None) -> Fault | None:
        """The first matching fault, without using it up."""
        return next((f for f in self._faults if f.kind is kind and f.applies(venue, path)), None)

    def take(self, kind: FaultKind, venue: str | None, path: str | None = None) -> Fault | None:
        """The first matching fault, counting one use (and dropping it when used up)."""
        fault = self.peek(kind, venue, path)
        if fault is None:
            return None
        fault.used += 1
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
        return fault

    def list(self) -> list[Fault]:
        return list(self._faults)
