"""Prometheus metrics, derived from what the engine records.

Most figures are counted from the events of each save (a `PhantomDetected` is a phantom found, a
`StopLossMoved` a confirmed move, ...), so the metrics and the log cannot disagree. Latencies come
from the engine's own timers: the duration of each append and the time from the arrival of a price
frame (stamped by the stream as it comes off the websocket) to the stop decision it caused.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from warden.adapters.streams.supervision import FeedHealth
from warden.domain.values import CloseBasis
from warden.engine.core import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.positions = Gauge("warden_positions", "Tracked open positions by status", ["status"], registry=r)
        self.events = Counter("warden_events_appended", "Events appended to the store", ["event"],
                              registry=r)
        self.append_seconds = Histogram("warden_append_seconds", "From a save being queued to its "
                                        "events being durable (group commit)", registry=r,
                                        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
        self.store_up = Gauge("warden_store_up", "1 while the store can be written", registry=r)
        self.stop_decisions = Counter("warden_stop_decisions", "Stop prices decided", ["purpose"],
                                      registry=r)
        self.stop_moves = Counter("warden_stop_moves", "Stop moves confirmed by the exchange", registry=r)
        self.phantoms = Counter("warden_phantoms_found", "Positions found untracked on the exchange",
                                ["action"], registry=r)
        self.ghosts = Counter("warden_ghosts_found", "Tracked positions found flat on the exchange",
                              ["reason"], registry=r)
        self.signals = Counter("warden_signals", "Signals by outcome", ["outcome"], registry=r)
        self.discrepancies = Counter("warden_feed_discrepancies", "Compare mode: reports the two feeds "
                                     "disagree on", ["kind"], registry=r)
        self.reconnects = Gauge("warden_ws_reconnects", "Websocket reconnects per feed", ["feed"],
                                registry=r)
        self.feed_up = Gauge("warden_feed_up", "1 while the feed is connected (and resynced)", ["feed"],
                             registry=r)
        self.feed_restarts = Gauge("warden_feed_restarts", "Sessions the supervisor restarted (ended "
                                   "or quiet)", ["feed"], registry=r)
        self.feed_frame_age = Gauge("warden_feed_last_frame_age_seconds", "Seconds since the feed "
                                    "last heard a frame or heartbeat", ["feed"], registry=r)
        self.feed_rejected = Gauge("warden_feed_rejected_frames", "Frames the feed could not "
                                   "understand", ["feed"], registry=r)
        self.feed_stale = Gauge("warden_feed_stale_frames", "Price frames older (venue time) than "
                                "one already taken for their symbol, dropped", ["feed"], registry=r)
        self.decision_seconds = Histogram(
            "warden_update_to_decision_seconds", "From the arrival of a price frame to the stop "
            "decision it caused", registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.marks = Gauge("warden_marks", "Marks offered to positions since start: acted on by the "
                           "position's lane, or superseded by a later one while it was busy",
                           ["outcome"], registry=r)
        self.tape_prices = Gauge("warden_tape_prices", "Prices recorded on the price tapes since start",
                                 registry=r)

    def attach(self, engine: Engine) -> None:
        engine.ctx.listeners.append(self.on_save)
        engine.ctx.append_timers.append(self.append_seconds.observe)
        engine.trailing.decision_observers.append(self.decision_seconds.observe)
        self._engine = engine

    def on_save(self, recordings: list[Any]) -> None:
        for recording in recordings:
            self.count(recording.domain_event)

    def count(self, event: Any) -> None:
        name = type(event).__name__
        self.events.labels(name).inc()
        if name == "StopLossRequested":
            self.stop_decisions.labels(event.purpose.value).inc()
        elif name == "StopLossMoved":
            self.stop_moves.inc()
        elif name == "PhantomDetected":
            self.phantoms.labels(event.action.value).inc()
        elif name == "PositionClosed" and event.basis is not CloseBasis.WARDEN_ORDER:
            # closed on the venue by something other than warden's own close order
            self.ghosts.labels(event.reason.value).inc()
        elif name == "SignalAccepted":
            self.signals.labels("accepted").inc()
        elif name in ("SignalRejected", "SignalDuplicated"):
            self.signals.labels(name.removeprefix("Signal").lower()).inc()

    def render(self, feeds: dict[str, FeedHealth] | None = None) -> bytes:
        """The exposition text, with gauges refreshed from the engine's and the feeds' state."""
        engine = getattr(self, "_engine", None)
        if engine is not None:
            counts: dict[str, int] = {}
            for position in engine.positions.values():
                counts[position.status.name] = counts.get(position.status.name, 0) + 1
            for status in ("PENDING", "FILLED", "PROTECTED", "TRAILING", "AGED"):
                self.positions.labels(status).set(counts.get(status, 0))
            self.store_up.set(1 if engine.ctx.store.available else 0)
            lanes = engine.trailing.lanes
            self.marks.labels("acted").set(lanes.acted)
            self.marks.labels("superseded").set(lanes.superseded)
            self.tape_prices.set(engine.tapes.recorded)
        for name, feed in (feeds or {}).items():
            self.reconnects.labels(name).set(feed.reconnects)
            self.feed_up.labels(name).set(1 if feed.up else 0)
            self.feed_restarts.labels(name).set(feed.restarts)
            self.feed_rejected.labels(name).set(feed.rejected_frames)
            self.feed_stale.labels(name).set(feed.stale_frames)
            if feed.last_frame_at is not None:
                self.feed_frame_age.labels(name).set(feed.monotonic() - feed.last_frame_at)
        return generate_latest(self.registry)
