"""The execution-price fallback chain: ask several sources in turn until one knows the real price.

The seed bot read ``fetch_order``'s average (0.0 on Bybit), placed a stop at 0.0 and rolled back a
filled position. Here each source is a `PriceStep` that answers with a positive `ExecutionPrice`
or with a `PriceAnswer` saying what the venue said instead (no price yet, a price of 0, ...);
a failure of one step is an answer too, and the next step is asked. Passes repeat until the
deadline, then the answer is `FillUnknown`: the engine must never invent a price. Whatever the
outcome, it carries every distinct answer heard on the way (``asked``), so the engine can record
what the venue said, a 0 included, and not only the source that finally knew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from warden.domain.reports import ExecutionPrice, FillUnknown, PriceAnswer
from warden.domain.values import PriceSource

PriceStep = Callable[[], Awaitable[ExecutionPrice | PriceAnswer]]


@dataclass(frozen=True)
class NamedStep:
    source: PriceSource
    step: PriceStep


class _Heard:
    """The distinct answers of a run, in the order first heard: a venue repeating itself on every
    poll is one answer, a venue that changes its answer is two."""

    def __init__(self) -> None:
        self.answers: dict[tuple[PriceSource, str], PriceAnswer] = {}

    def add(self, answer: PriceAnswer) -> None:
        self.answers.setdefault((answer.source, answer.said), answer)

    def all(self) -> tuple[PriceAnswer, ...]:
        return tuple(self.answers.values())

    def last_words(self) -> dict[str, str]:
        """Each source's latest answer (a later answer of a source replaces its earlier one)."""
        return {answer.source.value: answer.said for answer in self.answers.values()}


async def resolve_price(steps: Sequence[NamedStep], expected_qty: Decimal, deadline: float, *,
                        poll_interval: float = 0.2,
                        clock: Callable[[], float] = time.monotonic) -> ExecutionPrice | FillUnknown:
    """Run ``steps`` in order, repeatedly, until one yields a price > 0 for the whole quantity.

    A partial answer (less than ``expected_qty``) is kept and returned only if the deadline passes
    without a complete one: a real partial fill is better evidence than none.
    """
    heard = _Heard()
    partial: ExecutionPrice | None = None
    while True:
        for named in steps:
            remaining = deadline - clock()
            if remaining <= 0:
                return _unknown(heard, partial)
            answer = await _ask(named, remaining)
            if isinstance(answer, PriceAnswer):
                heard.add(answer)
            elif answer.qty >= expected_qty:
                return replace(answer, asked=heard.all())
            else:
                heard.add(PriceAnswer(answer.source, f"partial: {answer.qty} of {expected_qty} at "
                                      f"{answer.price}", price=answer.price, qty=answer.qty))
                if partial is None or answer.qty > partial.qty:
                    partial = answer
        remaining = deadline - clock()
        if remaining <= 0:
            return _unknown(heard, partial)
        await asyncio.sleep(min(poll_interval, remaining))


async def _ask(named: NamedStep, remaining: float) -> ExecutionPrice | PriceAnswer:
    """One step's answer; a timeout, a failure or an impossible price is an answer too."""
    try:
        answer = await asyncio.wait_for(named.step(), timeout=remaining)
    except TimeoutError:
        return PriceAnswer(named.source, "timed out")
    except Exception as exc:  # one failing source must not stop the chain
        return PriceAnswer(named.source, f"failed: {type(exc).__name__}: {exc}")
    if isinstance(answer, ExecutionPrice) and (answer.price <= 0 or answer.qty <= 0):
        return PriceAnswer(answer.source, f"reported a fill of {answer.qty} at {answer.price}",
                           price=answer.price, qty=answer.qty, refused=True, raw=answer.raw)
    return answer


def _unknown(heard: _Heard, partial: ExecutionPrice | None) -> ExecutionPrice | FillUnknown:
    asked = heard.all()
    if partial is not None:
        return replace(partial, asked=asked)
    notes = heard.last_words()
    reason = "; ".join(f"{name}: {note}" for name, note in notes.items()) or "deadline already passed"
    return FillUnknown(reason=f"no execution price before the deadline ({reason})", raw=notes,
                       asked=asked)
