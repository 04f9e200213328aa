"""Bybit v5 (linear) REST plumbing of the simulator: signature check, the v5 envelope, parameter
readers and the `route` wrapper that maps engine rejections to Bybit's retCodes.

Verifies `X-BAPI-*` HMAC signatures and the timestamp/recv-window the way Bybit does. Always HTTP
200 except for injected HTTP faults, like the real venue. The endpoints live in `bybit_market`
(public), `bybit_orders` (orders and executions) and `bybit_account` (positions, wallet, modes).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import bybit_shapes as shapes
from .book import Account, Rejected, Side
from .faults import FaultKind
from .hub import BODY, RECORD, SIM, compact
from .market import decimal_param, number_param

if TYPE_CHECKING:
    from .server import Simulator

VENUE = "bybit"
SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}


class BybitError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def envelope(code: int, msg: str, result: Any) -> web.Response:
    return web.json_response({"retCode": code, "retMsg": msg, "result": result,
                              "retExtInfo": {}, "time": int(time.time() * 1000)}, dumps=compact)


def rate_limited() -> web.Response:
    return envelope(10006, "Too many visits!", {})


def sim_of(request: web.Request) -> Simulator:
    return request.app[SIM]


def authenticate(request: web.Request) -> Account:
    sim = sim_of(request)
    key = request.headers.get("X-BAPI-API-KEY", "")
    account = sim.engine.account_by_key(VENUE, key)
    if account is None:
        raise BybitError(10003, "API key is invalid.")
    stamp = request.headers.get("X-BAPI-TIMESTAMP", "")
    window = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
    now = sim.auth_clock.now_ms()
    try:
        ts, recv = int(stamp), int(window)
    except ValueError:
        raise BybitError(10002, "invalid request, please check your timestamp") from None
    if not (now - recv <= ts < now + 1000):
        raise BybitError(10002, "invalid request, please check your server timestamp or "
                                f"recv_window param. req_timestamp[{ts}],server_timestamp[{now}],"
                                f"recv_window[{recv}]")
    payload = request[BODY] if request.method == "POST" else request.query_string
    origin = f"{stamp}{key}{window}{payload}"
    expected = hmac.new(account.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-BAPI-SIGN", "")):
        raise BybitError(10004, f"error sign! origin_string[{origin}]")
    return account


def dec(params: dict[str, Any], name: str) -> Decimal | None:
    return decimal_param(params, name, lambda n: BybitError(10001, f"params error: {n} invalid"))


def required(params: dict[str, Any], name: str) -> Decimal:
    value = dec(params, name)
    if value is None:
        raise BybitError(10001, f"params error: {name} is required")
    return value


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def position_idx(params: dict[str, Any]) -> int:
    raw = params.get("positionIdx", 0)
    if str(raw) not in ("0", "1", "2"):
        raise BybitError(10001, "params error: positionIdx invalid")
    return int(str(raw))


def given(params: dict[str, Any], name: str) -> str | None:
    """A string parameter, with "" counting as missing (as Bybit reads them)."""
    value = params.get(name)
    return None if value in (None, "") else str(value)


def integer(params: dict[str, Any], name: str) -> int | None:
    return number_param(params, name, int, lambda n: BybitError(10001, f"params error: {n} invalid"))


def limit_of(params: dict[str, Any], default: int, high: int = 1000) -> int:
    value = integer(params, "limit")
    return default if value is None else max(1, min(high, value))


def stop_fault(sim: Simulator, path: str) -> None:
    fault = sim.faults.take(FaultKind.REJECT_STOP, VENUE, path)
    if fault is not None:
        raise BybitError(fault.code or 10001,
                         fault.message or "price must be greater than minimum price precision")


def order_number(text: str) -> int | None:
    """The engine id behind a Bybit order id (a UUID); None when it is not one of ours."""
    try:
        return uuid.UUID(text).int
    except (ValueError, AttributeError):
        return None


def route(private: bool):
    """Wrap a handler: auth, then turn BybitError/Rejected into the v5 error envelope."""
    def wrap(fn):
        async def handler(request: web.Request) -> web.Response:
            record = request[RECORD]
            try:
                account = authenticate(request) if private else None
                result = fn(sim_of(request), account, dict(record.params))
            except BybitError as err:
                record.code = err.code
                return envelope(err.code, err.message, {})
            except Rejected as rej:
                code, msg = shapes.error_for(rej.reason, rej.detail, rej.context)
                record.code = code
                return envelope(code, msg, {})
            record.code = 0
            return envelope(0, "OK", result)
        return handler
    return wrap
