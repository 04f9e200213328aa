"""One test per injected simulator fault, showing what the adapter makes of it on both venues."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.integration.exchange.exchange_sim_helpers import (
    QTY,
    SYMBOL,
    make_config,
    sim_account,
    sim_position,
)
from warden.adapters.exchange.ccxt_exchange import CcxtExchange
from warden.domain.reports import ExecutionPrice, FillUnknown
from warden.domain.values import PriceSource, Side, Venue
from warden.engine.errors import Rejected, Retryable, UnknownOutcome
from warden.sim.server import Simulator

SIM_VENUE = {Venue.BYBIT: "bybit", Venue.BINANCE: "binance"}
ORDER_PATH = {Venue.BYBIT: "/v5/order", Venue.BINANCE: "/fapi/v1/order"}
CREATE_PATH = {Venue.BYBIT: "/v5/order/create", Venue.BINANCE: "/fapi/v1/order"}


def inject(sim: Simulator, venue: Venue, kind: str, **options: object) -> None:
    sim.control.inject(kind, venue=SIM_VENUE[venue], **options)


async def test_a_zero_price_on_the_order_query_is_resolved_from_the_fills(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    sim.control.set_price(SYMBOL, "60321.7")
    inject(sim, venue, "stale_fill", path=ORDER_PATH[venue], seconds=60)
    order = await exchange.open_market(SYMBOL, Side.LONG, QTY, "stale-1")
    result = await exchange.resolve_execution_price(SYMBOL, order.order_id, "stale-1", QTY,
                                                    time.monotonic() + 3)
    assert isinstance(result, ExecutionPrice)
    assert result.source is PriceSource.EXECUTIONS
    assert result.price == Decimal("60321.7") == Decimal(sim_position(sim, venue)["entry_price"])
    asked = [r["path"] for r in sim.control.requests(SIM_VENUE[venue])]
    assert any(ORDER_PATH[venue] in p and "create" not in p for p in asked[1:])  # the query was tried


async def test_no_source_answering_in_time_is_fill_unknown_never_zero(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    order = await exchange.open_market(SYMBOL, Side.LONG, QTY, "dark-1")
    sim.control.inject("http_error", venue=SIM_VENUE[venue], status=503)  # every REST call now fails
    result = await exchange.resolve_execution_price(SYMBOL, order.order_id, "dark-1", QTY,
                                                    time.monotonic() + 0.5)
    if venue is Venue.BINANCE:  # Binance's RESULT response already carried the fill
        assert isinstance(result, ExecutionPrice) and result.source is PriceSource.ORDER_RESPONSE
    else:
        assert isinstance(result, FillUnknown) and "ExchangeNotAvailable" in result.reason


async def test_a_stop_rejected_for_precision_is_a_typed_rejection_with_the_venue_message(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    await exchange.open_market(SYMBOL, Side.LONG, QTY, "rej-1")
    code, message = ((10001, "price must be greater than minimum price precision")
                     if venue is Venue.BYBIT
                     else (-1111, "Precision is over the maximum defined for this asset."))
    inject(sim, venue, "reject_stop", code=code, message=message)
    with pytest.raises(Rejected) as caught:
        await exchange.place_stop(SYMBOL, Side.LONG, QTY, Decimal("58000"))
    assert (caught.value.venue_code, caught.value.venue_message) == (str(code), message)


async def test_a_timeout_after_sending_is_an_unknown_outcome_and_the_order_can_be_found(
        sim: Simulator, venue: Venue) -> None:
    exchange = CcxtExchange(make_config(sim, venue, timeout_s=0.5))
    try:
        inject(sim, venue, "hang", path=CREATE_PATH[venue], seconds=3, after=True, times=1)
        with pytest.raises(UnknownOutcome):
            await exchange.open_market(SYMBOL, Side.LONG, QTY, "slow-1")
        found = await exchange.fetch_order_by_client_id(SYMBOL, "slow-1")  # query before deciding
        assert found is not None and found.filled_qty == QTY
    finally:
        await exchange.close()


async def test_a_rate_limit_is_retryable_and_nothing_was_opened(
        sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    await exchange.load_instruments()
    inject(sim, venue, "rate_limit", path=CREATE_PATH[venue], times=1)
    with pytest.raises(Retryable):
        await exchange.open_market(SYMBOL, Side.LONG, QTY, "rl-1")
    assert sim_position(sim, venue) is None
    await exchange.open_market(SYMBOL, Side.LONG, QTY, "rl-1")  # the retry goes through
    assert Decimal(sim_position(sim, venue)["qty"]) == QTY


async def test_a_5xx_is_retryable(sim: Simulator, venue: Venue, exchange: CcxtExchange) -> None:
    await exchange.load_instruments()
    inject(sim, venue, "http_error", status=503, times=1)
    with pytest.raises(Retryable):
        await exchange.fetch_positions()
    assert await exchange.fetch_positions() == []
    assert sim.control.state(sim_account(venue))["orders"] == []
