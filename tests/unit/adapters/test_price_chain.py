"""The execution-price chain never yields 0, says FillUnknown when nothing answers in time, and
hands back every distinct answer it heard on the way (a 0 included)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from warden.adapters.exchange.price_chain import NamedStep, resolve_price
from warden.domain.reports import ExecutionPrice, FillUnknown, PriceAnswer
from warden.domain.values import PriceSource

QTY = Decimal("0.01")


def answer(price: str, source: PriceSource, qty: Decimal = QTY) -> ExecutionPrice:
    return ExecutionPrice(price=Decimal(price), qty=qty, source=source)


def nothing(source: PriceSource) -> PriceAnswer:
    return PriceAnswer(source, "no price yet")


def step(source: PriceSource, result: object) -> NamedStep:
    async def run() -> ExecutionPrice | PriceAnswer:
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[return-value]
    return NamedStep(source, run)


async def test_a_zero_price_from_the_order_query_falls_through_to_the_fills_and_is_kept() -> None:
    steps = [step(PriceSource.ORDER_RESPONSE, nothing(PriceSource.ORDER_RESPONSE)),
             step(PriceSource.ORDER_QUERY, answer("0", PriceSource.ORDER_QUERY)),
             step(PriceSource.EXECUTIONS, answer("60010.5", PriceSource.EXECUTIONS))]
    result = await resolve_price(steps, QTY, time.monotonic() + 1)
    assert isinstance(result, ExecutionPrice)
    assert (result.price, result.source) == (Decimal("60010.5"), PriceSource.EXECUTIONS)
    response, query = result.asked
    assert response == nothing(PriceSource.ORDER_RESPONSE) and not response.refused
    assert query.refused and query.price == 0 and query.source is PriceSource.ORDER_QUERY


async def test_an_answer_repeated_on_every_poll_is_heard_once_and_a_changed_one_again() -> None:
    said = iter(["no price yet", "no price yet", "no price yet", "status New", "status New"])

    async def query() -> ExecutionPrice | PriceAnswer:
        text = next(said, None)
        return PriceAnswer(PriceSource.ORDER_QUERY, text) if text else answer("99.5", PriceSource.ORDER_QUERY)
    result = await resolve_price([NamedStep(PriceSource.ORDER_QUERY, query)], QTY,
                                 time.monotonic() + 2, poll_interval=0.01)
    assert isinstance(result, ExecutionPrice) and result.price == Decimal("99.5")
    assert [a.said for a in result.asked] == ["no price yet", "status New"]


async def test_a_failing_source_does_not_stop_the_chain() -> None:
    steps = [step(PriceSource.ORDER_QUERY, RuntimeError("boom")),
             step(PriceSource.POSITION, answer("100", PriceSource.POSITION))]
    result = await resolve_price(steps, QTY, time.monotonic() + 1)
    assert isinstance(result, ExecutionPrice) and result.source is PriceSource.POSITION
    assert [a.said for a in result.asked] == ["failed: RuntimeError: boom"]


async def test_nothing_answering_before_the_deadline_is_fill_unknown_with_reasons() -> None:
    steps = [step(PriceSource.ORDER_QUERY, nothing(PriceSource.ORDER_QUERY)),
             step(PriceSource.EXECUTIONS, RuntimeError("venue down"))]
    started = time.monotonic()
    result = await resolve_price(steps, QTY, started + 0.3, poll_interval=0.05)
    assert isinstance(result, FillUnknown)
    assert "venue down" in result.reason and "order_query: no price yet" in result.reason
    assert {a.source for a in result.asked} == {PriceSource.ORDER_QUERY, PriceSource.EXECUTIONS}
    assert 0.25 <= time.monotonic() - started < 1.0


async def test_a_hanging_source_is_cut_at_the_deadline() -> None:
    async def hang() -> ExecutionPrice | PriceAnswer:
        await asyncio.sleep(10)
        return nothing(PriceSource.ORDER_QUERY)
    started = time.monotonic()
    result = await resolve_price([NamedStep(PriceSource.ORDER_QUERY, hang)], QTY, started + 0.2)
    assert isinstance(result, FillUnknown) and "timed out" in result.reason
    assert time.monotonic() - started < 1.0


async def test_a_price_that_appears_later_is_found_by_polling() -> None:
    calls = 0

    async def late() -> ExecutionPrice | PriceAnswer:
        nonlocal calls
        calls += 1
        return answer("99.5", PriceSource.ORDER_QUERY) if calls >= 3 else nothing(PriceSource.ORDER_QUERY)
    result = await resolve_price([NamedStep(PriceSource.ORDER_QUERY, late)], QTY, time.monotonic() + 2,
                                 poll_interval=0.01)
    assert isinstance(result, ExecutionPrice) and result.price == Decimal("99.5") and calls == 3


async def test_a_partial_fill_is_returned_only_when_nothing_complete_arrives() -> None:
    half = answer("100", PriceSource.EXECUTIONS, qty=QTY / 2)
    result = await resolve_price([step(PriceSource.EXECUTIONS, half)], QTY, time.monotonic() + 0.1,
                                 poll_interval=0.02)
    assert isinstance(result, ExecutionPrice) and result.qty == QTY / 2
