"""Network latency of the simulated venues: a base delay plus seeded jitter.

One `Latency` serves both REST and websocket delivery. A REST answer comes `sample()` later than
it would without latency (half spent before the request is processed, half after, so a state
change happens mid-flight, as over a real network); each websocket push is delivered `sample()`
after it was produced, never before the push queued ahead of it on the same connection (a TCP
stream does not reorder). The jitter is uniform in [-jitter, +jitter] from a `random.Random`
seeded by the simulator's seed, so a run repeats. Zero (the default) adds nothing at all.
"""

from __future__ import annotations

import random


class Latency:
    def __init__(self, ms: float = 0.0, jitter_ms: float = 0.0, seed: int = 0) -> None:
        self._rng = random.Random(f"latency:{seed}")
        self.ms, self.jitter_ms = 0.0, 0.0
        self.set(ms, jitter_ms)

    def set(self, ms: float, jitter_ms: float = 0.0) -> None:
        if ms < 0 or jitter_ms < 0:
            raise ValueError("latency and jitter are milliseconds >= 0")
        self.ms, self.jitter_ms = float(ms), float(jitter_ms)

    @property
    def active(self) -> bool:
        return bool(self.ms or self.jitter_ms)

    def sample(self) -> float:
        """One delay, in seconds (never negative)."""
        if not self.active:
            return 0.0
        jitter = self._rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.ms + jitter) / 1000.0

    def to_dict(self) -> dict[str, float]:
        return {"latency_ms": self.ms, "jitter_ms": self.jitter_ms}
