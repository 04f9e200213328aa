"""Pure parsing of Bybit v5 private websocket frames (the native stream's wire format).

``{"topic": "position"|"order"|"execution", "data": [...]}`` becomes reports through the same
`adapters.exchange.normalize` parsers the REST adapter uses; ``{"op": ...}`` answers (auth,
subscribe, pong) become a `ControlFrame`. Anything else -- invalid JSON, an unknown topic, an item
without the fields a report needs -- becomes a `StreamRejection` carrying the raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from warden.adapters.exchange import normalize
from warden.adapters.streams.events import Report, StreamRejection
from warden.domain.values import ReportSource

FEED = "bybit-native"
TOPICS = ("position", "order", "execution")


@dataclass(frozen=True)
class ControlFrame:
    op: str
    success: bool
    message: str
    raw: dict[str, Any]


def parse_frame(text: str | bytes, venue: str, account: str) -> list[Report | ControlFrame | StreamRejection]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        frame = json.loads(text)
    except ValueError as exc:
        return [StreamRejection(FEED, f"json: {exc}", text)]
    if not isinstance(frame, dict):
        return [StreamRejection(FEED, "shape: not a JSON object", text)]
    if "op" in frame or frame.get("ret_msg") == "pong" or "pong" in frame:
        return [_control(frame)]
    topic, data = frame.get("topic"), frame.get("data")
    if topic not in TOPICS or not isinstance(data, list):
        return [StreamRejection(FEED, f"shape: unexpected frame (topic {topic!r})", text)]
    out: list[Report | ControlFrame | StreamRejection] = []
    for item in data:
        out.extend(_item(topic, item, venue, account))
    return out


def is_trade_execution(item: dict[str, Any]) -> bool:
    """Bybit's execution topic also carries funding and liquidation-fee entries; only trades fill."""
    return item.get("execType", "Trade") == "Trade"


def _item(topic: str, item: Any, venue: str, account: str) -> list[Report | StreamRejection]:
    if not isinstance(item, dict):
        return [StreamRejection(FEED, f"shape: {topic} item is not an object", json.dumps(item))]
    try:
        if topic == "position":
            return [normalize.parse_position(venue, account, item, ReportSource.WEBSOCKET)]
        if topic == "order":
            return [normalize.parse_order(venue, item)]
        if not is_trade_execution(item):
            return []
        return [normalize.parse_fill(venue, item)]
    except (ValueError, KeyError, TypeError) as exc:
        return [StreamRejection(FEED, f"report: bad {topic} item: {exc}", json.dumps(item))]


def _control(frame: dict[str, Any]) -> ControlFrame:
    op = str(frame.get("op") or "pong")
    success = bool(frame.get("success", True))
    return ControlFrame(op=op, success=success, message=str(frame.get("ret_msg", "")), raw=frame)
