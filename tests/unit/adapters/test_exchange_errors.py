"""ccxt exceptions and venue codes map to the three outcomes the engine acts on."""

from __future__ import annotations

import aiohttp
import ccxt.async_support as ccxt
import pytest

from warden.adapters.exchange.errors import DUPLICATE_CLIENT_ID, NOT_MODIFIED, classify, has_code, venue_error
from warden.engine.errors import Rejected, Retryable, UnknownOutcome

BYBIT_PRECISION = ('bybit {"retCode":10001,"retMsg":"price must be greater than minimum price '
                   'precision","result":{},"retExtInfo":{},"time":1}')


def caused(exc: Exception, cause: BaseException) -> Exception:
    exc.__cause__ = cause
    return exc


def test_a_bybit_rejection_keeps_the_venue_code_and_message() -> None:
    outcome = classify(ccxt.BadRequest(BYBIT_PRECISION), "bybit", operation="stop", write=True)
    assert isinstance(outcome, Rejected)
    assert outcome.venue_code == "10001"
    assert outcome.venue_message == "price must be greater than minimum price precision"


def test_a_binance_rejection_keeps_the_venue_code_and_message() -> None:
    body = '{"code":-4164,"msg":"Order\'s notional must be no smaller than 100"}'
    exc = ccxt.InvalidOrder("binanceusdm " + body)
    outcome = classify(exc, "binanceusdm", operation="open", write=True)
    assert isinstance(outcome, Rejected)
    assert outcome.venue_code == "-4164"
    assert outcome.venue_message == "Order's notional must be no smaller than 100"


def test_a_timeout_after_sending_a_write_is_an_unknown_outcome() -> None:
    exc = caused(ccxt.RequestTimeout("bybit POST /v5/order/create"), TimeoutError())
    assert isinstance(classify(exc, "bybit", operation="open", write=True), UnknownOutcome)


def test_a_timeout_of_a_read_is_retryable() -> None:
    exc = caused(ccxt.RequestTimeout("bybit GET /v5/position/list"), TimeoutError())
    assert isinstance(classify(exc, "bybit", operation="positions", write=False), Retryable)


def test_a_connect_timeout_never_sent_the_write_so_it_is_retryable() -> None:
    exc = caused(ccxt.RequestTimeout("bybit POST"), aiohttp.ConnectionTimeoutError())
    assert isinstance(classify(exc, "bybit", operation="open", write=True), Retryable)


def test_a_connection_dropped_after_sending_a_write_is_an_unknown_outcome() -> None:
    exc = caused(ccxt.ExchangeNotAvailable("bybit POST"), aiohttp.ServerDisconnectedError())
    assert isinstance(classify(exc, "bybit", operation="open", write=True), UnknownOutcome)


@pytest.mark.parametrize("exc", [
    ccxt.RateLimitExceeded('bybit {"retCode":10006,"retMsg":"Too many visits!"}'),
    ccxt.DDoSProtection("binanceusdm 429"),
    ccxt.ExchangeNotAvailable("bybit GET 503 Service Unavailable"),
    ccxt.InvalidNonce('bybit {"retCode":10002,"retMsg":"invalid request, please check your timestamp"}'),
])
def test_rate_limits_5xx_and_clock_skew_are_retryable(exc: Exception) -> None:
    assert isinstance(classify(exc, "bybit", operation="open", write=True), Retryable)


def test_binance_1003_is_retryable_although_ccxt_calls_it_a_plain_exchange_error() -> None:
    exc = ccxt.ExchangeError('binanceusdm {"code":-1003,"msg":"Too many requests"}')
    assert isinstance(classify(exc, "binanceusdm", operation="open", write=True), Retryable)


def test_send_status_unknown_codes_are_unknown_outcomes_for_writes() -> None:
    binance = ccxt.ExchangeError('binanceusdm {"code":-1007,"msg":"Timeout waiting for response"}')
    bybit = ccxt.ExchangeError('bybit {"retCode":10016,"retMsg":"System error"}')
    assert isinstance(classify(binance, "binanceusdm", operation="open", write=True), UnknownOutcome)
    assert isinstance(classify(bybit, "bybit", operation="open", write=True), UnknownOutcome)
    assert isinstance(classify(bybit, "bybit", operation="positions", write=False), Retryable)


def test_duplicate_client_id_and_not_modified_are_recognised_by_code() -> None:
    dup = classify(ccxt.InvalidOrder('bybit {"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}'),
                   "bybit", operation="open", write=True)
    same = classify(ccxt.ExchangeError('bybit {"retCode":34040,"retMsg":"not modified"}'),
                    "bybit", operation="stop", write=True)
    assert has_code(dup, "bybit", DUPLICATE_CLIENT_ID)
    assert has_code(same, "bybit", NOT_MODIFIED)
    assert not has_code(same, "bybit", DUPLICATE_CLIENT_ID)


def test_a_message_without_a_json_body_has_no_venue_code() -> None:
    assert venue_error(ccxt.ExchangeError("bybit something odd")) == (None, None)
    outcome = classify(ccxt.ExchangeError("bybit something odd"), "bybit", operation="x", write=True)
    assert isinstance(outcome, Rejected) and outcome.venue_code is None
