"""The execution-price chain never yields 0 and says FillUnknown when nothing answers in time."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from warden.adapters.exchange.price_chain import NamedStep, resolve_price
from warden.domain.reports import ExecutionPrice, FillUnknown
from warden.domain.values import PriceSource

QTY = Decimal("0.01")


def answer(price: str, source: PriceSource, qty: Decimal = QTY) -> ExecutionPrice:
    return ExecutionPrice(price=Decimal(price), qty=qty, source=source)


def step(name: str, result: object) -> NamedStep:
    async def run() -> ExecutionPrice | None:
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[return-value]
    return NamedStep(name, run)


async def test_a_zero_price_from_the_order_query_falls_through_to_the_fills() -> None:
    steps = [step("response", None), step("query", answer("0", PriceSource.ORDER_QUERY)),
             step("fills", answer("60010.5", PriceSource.EXECUTIONS))]
    result = await resolve_price(steps, QTY, time.monotonic() + 1)
    assert isinstance(result, ExecutionPrice)
    assert (result.price, result.source) == (Decimal("60010.5"), PriceSource.EXECUTIONS)


async def test_a_failing_source_does_not_stop_the_chain() -> None:
    steps = [step("query", RuntimeError("boom")), step("position", answer("100", PriceSource.POSITION))]
    result = await resolve_price(steps, QTY, time.monotonic() + 1)
    assert isinstance(result, ExecutionPrice) and result.source is PriceSource.POSITION


async def test_nothing_answering_before_the_deadline_is_fill_unknown_with_reasons() -> None:
    steps = [step("query", None), step("fills", RuntimeError("venue down"))]
    started = time.monotonic()
    result = await resolve_price(steps, QTY, started + 0.3, poll_interval=0.05)
    assert isinstance(result, FillUnknown)
    assert "venue down" in result.reason and "query: no price yet" in result.reason
    assert 0.25 <= time.monotonic() - started < 1.0


async def test_a_hanging_source_is_cut_at_the_deadline() -> None:
    async def hang() -> ExecutionPrice | None:
        await asyncio.sleep(10)
        return None
    started = time.monotonic()
    result = await resolve_price([NamedStep("query", hang)], QTY, started + 0.2)
    assert isinstance(result, FillUnknown) and "timed out" in result.reason
    assert time.monotonic() - started < 1.0


async def test_a_price_that_appears_later_is_found_by_polling() -> None:
    calls = 0

    async def late() -> ExecutionPrice | None:
        nonlocal calls
        calls += 1
        return answer("99.5", PriceSource.ORDER_QUERY) if calls >= 3 else None
    result = await resolve_price([NamedStep("query", late)], QTY, time.monotonic() + 2,
                                 poll_interval=0.01)
    assert isinstance(result, ExecutionPrice) and result.price == Decimal("99.5") and calls == 3


async def test_a_partial_fill_is_returned_only_when_nothing_complete_arrives() -> None:
    half = answer("100", PriceSource.EXECUTIONS, qty=QTY / 2)
    result = await resolve_price([step("fills", half)], QTY, time.monotonic() + 0.1,
                                 poll_interval=0.02)
    assert isinstance(result, ExecutionPrice) and result.qty == QTY / 2
