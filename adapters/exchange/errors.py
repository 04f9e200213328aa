"""ccxt's exceptions mapped onto the engine's three failures (`warden.engine.errors`).

`classify` maps a ccxt exception (and the venue code inside its message) to one of these.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import ccxt.async_support as ccxt

from warden.engine.errors import AlreadyInPlace, ExchangeFailure, Rejected, Retryable, UnknownOutcome

# Venue codes whose meaning ccxt does not map to the class the engine needs (ccxt maps Bybit
# 10016 and Binance -1007 to a plain ExchangeError, which would read as a rejection).
_RETRYABLE_CODES = {
    "bybit": {"10006", "10018", "10429"},
    "binanceusdm": {"-1003", "-1015", "-1008", "-1001"},
}
_UNKNOWN_CODES = {
    "bybit": {"10000", "10016"},  # server timeout / "System error": may have been processed
    "binanceusdm": {"-1007"},  # "Timeout waiting for response from backend server. Send status unknown"
}
# Venue codes that mean "the client order id already exists": the first attempt went through.
DUPLICATE_CLIENT_ID = {"bybit": {"110072"}, "binanceusdm": {"-4116"}}
# Bybit answers a trading-stop that sets the stop it already has with 34040 "not modified".
NOT_MODIFIED = {"bybit": {"34040"}, "binanceusdm": set()}
ORDER_NOT_FOUND = {"bybit": {"110001", "170213", "110008"}, "binanceusdm": {"-2011", "-2013"}}

_JSON_IN_MESSAGE = re.compile(r"(\{.*\})", re.DOTALL)


def venue_answer(exc: BaseException) -> dict[str, Any] | None:
    """The venue's JSON answer inside a ccxt exception text like ``bybit {"retCode":...}``."""
    match = _JSON_IN_MESSAGE.search(str(exc))
    if match is None:
        return None
    try:
        body: Any = json.loads(match.group(1))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def venue_error(exc: BaseException) -> tuple[str | None, str | None]:
    """The venue's (code, message) from a ccxt exception text like ``bybit {"retCode":...}``."""
    body = venue_answer(exc)
    if body is None:
        return None, None
    code = body.get("retCode", body.get("code"))
    message = body.get("retMsg", body.get("msg"))
    return (None if code is None else str(code)), (None if message is None else str(message))


def _sent_before_failure(exc: BaseException) -> bool:
    """False when the cause shows the request never left (connect refused, connect timeout)."""
    cause = exc.__cause__
    connect_failures: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,)
    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
    if connect_timeout is not None:
        connect_failures += (connect_timeout,)
    return not isinstance(cause, connect_failures)


def classify(exc: BaseException, venue: str, *, operation: str, write: bool) -> ExchangeFailure:
    """Map a ccxt (or asyncio) exception to the engine's three outcomes.

    ``write`` is True for requests that change venue state (orders, stops): for those a timeout is
    an `UnknownOutcome`; for reads it is merely `Retryable`.
    """
    if isinstance(exc, ExchangeFailure):
        return exc
    code, message = venue_error(exc)
    text = f"{operation}: {type(exc).__name__}: {exc}"
    kwargs = {"venue_code": code, "venue_message": message, "operation": operation,
              "venue_answer": venue_answer(exc)}
    ambiguous = UnknownOutcome if write else Retryable
    if code is not None and code in _UNKNOWN_CODES.get(venue, ()):
        return ambiguous(text, **kwargs)
    if code is not None and code in _RETRYABLE_CODES.get(venue, ()):
        return Retryable(text, **kwargs)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection | ccxt.InvalidNonce):
        return Retryable(text, **kwargs)
    if isinstance(exc, ccxt.RequestTimeout | asyncio.TimeoutError):
        return ambiguous(text, **kwargs) if _sent_before_failure(exc) else Retryable(text, **kwargs)
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        # 5xx (the venue answered: it did not process) or a connection that failed; a connection
        # dropped after the request left is ambiguous.
        cause = exc.__cause__
        dropped = isinstance(cause, aiohttp.ClientConnectionError) and _sent_before_failure(exc)
        return ambiguous(text, **kwargs) if dropped else Retryable(text, **kwargs)
    if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse | ccxt.CancelPending):
        return ambiguous(text, **kwargs)
    if isinstance(exc, ccxt.ExchangeError):
        if code is not None and code in NOT_MODIFIED.get(venue, ()):
            return AlreadyInPlace(text, **kwargs)
        return Rejected(text, **kwargs)
    return ambiguous(text, **kwargs)


def has_code(exc: BaseException, venue: str, table: dict[str, set[str]]) -> bool:
    code = exc.venue_code if isinstance(exc, ExchangeFailure) else venue_error(exc)[0]
    return code is not None and code in table.get(venue, set())
