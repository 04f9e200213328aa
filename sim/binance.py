"""Binance USD-M REST plumbing of the simulator: API-key and signature checks, the `route`
wrapper that maps engine rejections to Binance's `{"code", "msg"}` errors, and parameter readers.

Checks `X-MBX-APIKEY`, the HMAC `signature` over the exact query string or form body, and the
timestamp/recvWindow, with Binance's codes (-2014/-2015, -1102, -1021, -1022). The endpoints
live in `binance_orders` (regular orders), `binance_algo` (conditional orders),
`binance_market` (public data) and `binance_account` (positions, balances, modes, listenKey).
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import binance_shapes as shapes
from .book import Account, Rejected, Side
from .hub import BODY, RECORD, SIM, compact
from .market import decimal_param

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "binance"
POSITION_SIDES = {"BOTH": 0, "LONG": 1, "SHORT": 2}


class BinanceError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def missing(name: str) -> BinanceError:
    return BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                                    "or malformed.")


def rate_limited() -> web.Response:
    return web.json_response({"code": -1003, "msg": "Too many requests; current limit of IP is "
                              "2400 requests per minute. Please use the websocket for live "
                              "updates to avoid polling the API."}, status=429, dumps=compact)


def authenticate(request: web.Request, signed: bool) -> Account:
    sim: Simulator = request.app[SIM]
    key = request.headers.get("X-MBX-APIKEY", "")
    if not key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    account = sim.engine.account_by_key(VENUE, key)
    if account is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    if not signed:
        return account
    parts = (request.query_string + request[BODY]).split("&")
    signature = next((p[10:] for p in parts if p.startswith("signature=")), "")
    unsigned = "&".join(p for p in parts if not p.startswith("signature="))
    params = request[RECORD].params
    try:
        stamp, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
    except (KeyError, ValueError):
        raise missing("timestamp") from None
    now = sim.auth_clock.now_ms()
    if stamp - now > 1000:
        raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the "
                                       "server's time.")
    if now - stamp > window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    expected = hmac.new(account.secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    return account


def route(auth: str | None):
    """`auth`: None (public), "key" (API key only, like listenKey) or "signed"."""
    def wrap(fn):
        async def handler(request: web.Request) -> web.Response:
            record = request[RECORD]
            sim: Simulator = request.app[SIM]
            try:
                account = authenticate(request, auth == "signed") if auth else None
                result = fn(sim, account, dict(record.params))
            except BinanceError as err:
                record.code = err.code
                return web.json_response({"code": err.code, "msg": err.message},
                                         status=err.status, dumps=compact)
            except Rejected as rej:
                status, code, msg = shapes.error_for(rej.reason, rej.detail, rej.context)
                record.code = code
                return web.json_response({"code": code, "msg": msg}, status=status,
                                         dumps=compact)
            return web.json_response(result, dumps=compact)
        return handler
    return wrap


def dec(params: dict[str, Any], name: str) -> Decimal | None:
    return decimal_param(params, name, lambda n: BinanceError(
        400, -1100, f"Illegal characters found in parameter '{n}'."))


def side_of(params: dict[str, Any]) -> Side:
    try:
        return Side(str(params.get("side", "")).lower())
    except ValueError:
        raise missing("side") from None


def true(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() == "true"


def long_param(params: dict[str, Any], name: str) -> int | None:
    """A LONG parameter such as `orderId`; Binance refuses anything but 1-20 digits with -1100."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    text = str(raw)
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal "
                                       "range is '^[0-9]{1,20}$'.")
    return int(text)


def position_side(account: Account, params: dict[str, Any]) -> int:
    """The position index the order is for: BOTH 0, LONG 1, SHORT 2 (-4061 when the account's
    mode disagrees is the engine's check). In hedge mode `reduceOnly` may not be sent."""
    raw = str(params.get("positionSide") or "BOTH").upper()
    if raw not in POSITION_SIDES:
        raise BinanceError(400, -1100, "Illegal characters found in parameter 'positionSide'.")
    symbol = str(params.get("symbol", ""))
    if symbol in account.hedge and params.get("reduceOnly") not in (None, ""):
        raise BinanceError(400, -1106, "Parameter 'reduceOnly' sent when not required.")
    return POSITION_SIDES[raw]
