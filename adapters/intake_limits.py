"""The intake's budgets: token buckets (one shared by authenticated signals, one per source address
for unauthenticated requests), remembered keys with an expiry (nonces, signal keys), and the budget
that keeps refused unauthenticated requests from growing the log at the rate they arrive (the
websocket feeds' rejected frames use it too, `adapters/streams/rejections.py`).

Every structure here is bounded: a flood from many addresses or of many nonces costs a fixed amount
of memory, never more.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from typing import Any

MAX_REMEMBERED = 100_000  # nonces and signal keys; the rate limit keeps far fewer alive
MAX_SOURCES = 10_000  # source addresses with a bucket of their own


class TokenBucket:
    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate, self.burst, self.monotonic = rate, burst, monotonic
        self.tokens, self.at = float(burst), monotonic()

    def take(self) -> bool:
        self._refill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.burst

    def _refill(self) -> None:
        now = self.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now


class SourceBuckets:
    """One `TokenBucket` per source address. When `MAX_SOURCES` are tracked, the quiet ones (full
    buckets) are forgotten; if none is quiet, a new source is refused: only a flood from more
    addresses than that fills the table, and then unauthenticated traffic is all junk anyway."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate, self.burst, self.monotonic = rate, burst, monotonic
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, source: str) -> bool:
        bucket = self.buckets.get(source)
        if bucket is None:
            if len(self.buckets) >= MAX_SOURCES:
                self.buckets = {s: b for s, b in self.buckets.items() if not b.full()}
                if len(self.buckets) >= MAX_SOURCES:
                    return False
            bucket = self.buckets[source] = TokenBucket(self.rate, self.burst, self.monotonic)
        return bucket.take()


def source_of(peer: str | None) -> str:
    """The address a per-source limit counts: the peer's IPv4 address, or its IPv6 /64 (one host
    commonly holds a whole /64, so counting single IPv6 addresses would be no limit at all)."""
    try:
        address = ipaddress.ip_address(peer or "")
        if address.version == 4:
            return str(address)
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address.exploded}/64", strict=False))
    except ValueError:
        return peer or "unknown"


class Expiring:
    """Keys remembered until a wall-clock expiry (seconds); bounded by `MAX_REMEMBERED`."""

    def __init__(self) -> None:
        self.until: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, now: float) -> tuple[float, Any] | None:
        entry = self.until.get(key)
        return entry if entry is not None and entry[0] > now else None

    def add(self, key: str, expiry: float, now: float, value: Any = None) -> bool:
        if len(self.until) >= MAX_REMEMBERED:
            self.until = {k: v for k, v in self.until.items() if v[0] > now}
            if len(self.until) >= MAX_REMEMBERED:
                return False
        self.until[key] = (expiry, value)
        return True


class RecordBudget:
    """At most ``rate`` records a second (``burst`` at once); the refusals over it are counted by
    code and the next record carries those counts, so nothing is lost from the totals."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.bucket = TokenBucket(rate, burst, monotonic)
        self.unrecorded: Counter[str] = Counter()

    def admit(self, code: str) -> dict[str, int] | None:
        """The counts skipped since the last record if this one may be recorded, else None."""
        if not self.bucket.take():
            self.unrecorded[code] += 1
            return None
        skipped, self.unrecorded = dict(self.unrecorded), Counter()
        return skipped

    def flush(self) -> dict[str, int] | None:
        """The counts skipped since the last record when a record of them alone may be made now
        (a summary, when no refusal came to carry them), else None. Counts nothing new."""
        if not self.unrecorded or not self.bucket.take():
            return None
        skipped, self.unrecorded = dict(self.unrecorded), Counter()
        return skipped
