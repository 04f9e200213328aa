"""Pure parsing of Binance USD-M user-data frames (the native Binance stream's wire format).

``ORDER_TRADE_UPDATE`` gives an order report, and a fill when its execution type is ``TRADE``;
``ALGO_UPDATE`` (conditional orders: the stops) an order report; ``ACCOUNT_UPDATE`` one position
report per ``P`` item, stamped with the event time ``E`` as ccxt.pro stamps it. The same
`adapters.exchange.normalize` parsers as REST and ccxt.pro read the items. ``listenKeyExpired`` is a
`ListenKeyExpired` marker (the stream must get a new key). Events that carry nothing warden
follows are ignored; anything else becomes a `StreamRejection` with the raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from warden.adapters.exchange import normalize
from warden.adapters.streams.events import Report, StreamRejection
from warden.domain.values import ReportSource

FEED = "binance-native"
# Known events with nothing for warden: balances only, leverage / margin settings, margin calls.
IGNORED = {"TRADE_LITE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL", "STRATEGY_UPDATE", "GRID_UPDATE",
           "CONDITIONAL_ORDER_TRIGGER_REJECT"}


@dataclass(frozen=True)
class ListenKeyExpired:
    raw: dict[str, Any]


Item = Report | StreamRejection | ListenKeyExpired


def parse_frame(text: str | bytes, venue: str, account: str) -> list[Item]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [StreamRejection(FEED, f"json: {exc}", text)]
    if not isinstance(frame, dict):
        return [StreamRejection(FEED, "shape: not a JSON object", text)]
    event = frame.get("e")
    if event == "listenKeyExpired":
        return [ListenKeyExpired(frame)]
    if event in IGNORED or ("result" in frame and "id" in frame):  # or an answer to a request
        return []
    try:
        if event in ("ORDER_TRADE_UPDATE", "ALGO_UPDATE"):
            return _order(event, _object(frame, "o"), venue)
        if event == "ACCOUNT_UPDATE":
            positions = _object(frame, "a").get("P", [])
            if not isinstance(positions, list) or not all(isinstance(p, dict) for p in positions):
                raise TypeError("a.P is not a list of objects")
            return [normalize.parse_position(venue, account, p, ReportSource.WEBSOCKET,
                                             event_time_ms=frame.get("E")) for p in positions]
    except (ValueError, KeyError, TypeError) as exc:
        return [StreamRejection(FEED, f"report: bad {event} event: {exc}", text)]
    return [StreamRejection(FEED, f"shape: unexpected frame (event {event!r})", text)]


def _object(frame: dict[str, Any], key: str) -> dict[str, Any]:
    value = frame.get(key)
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is not an object")
    return value


def _order(event: str, order: dict[str, Any], venue: str) -> list[Item]:
    reports: list[Item] = [normalize.parse_order(venue, order)]
    if event == "ORDER_TRADE_UPDATE" and order.get("x") == "TRADE":
        reports.append(normalize.parse_fill(venue, order))
    return reports
