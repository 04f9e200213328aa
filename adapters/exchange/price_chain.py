"""The execution-price fallback chain: ask several sources in turn until one knows the real price.

The seed bot read ``fetch_order``'s average (0.0 on Bybit), placed a stop at 0.0 and rolled back a
filled position. Here each source is a `PriceStep` that answers with a positive `ExecutionPrice`
or ``None`` ("I don't know yet"); failures of one step are recorded and the next step is asked.
Passes repeat until the deadline, then the answer is `FillUnknown` with every step's last word:
the engine must never invent a price.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from warden.domain.reports import ExecutionPrice, FillUnknown

PriceStep = Callable[[], Awaitable[ExecutionPrice | None]]


@dataclass(frozen=True)
class NamedStep:
    name: str
    step: PriceStep


async def resolve_price(steps: Sequence[NamedStep], expected_qty: Decimal, deadline: float, *,
                        poll_interval: float = 0.2,
                        clock: Callable[[], float] = time.monotonic) -> ExecutionPrice | FillUnknown:
    """Run ``steps`` in order, repeatedly, until one yields a price > 0 for the whole quantity.

    A partial answer (less than ``expected_qty``) is kept and returned only if the deadline passes
    without a complete one: a real partial fill is better evidence than none.
    """
    notes: dict[str, str] = {}
    partial: ExecutionPrice | None = None
    while True:
        for named in steps:
            remaining = deadline - clock()
            if remaining <= 0:
                return _unknown(notes, partial)
            try:
                answer = await asyncio.wait_for(named.step(), timeout=remaining)
            except TimeoutError:
                notes[named.name] = "timed out"
                continue
            except Exception as exc:  # one failing source must not stop the chain
                notes[named.name] = f"{type(exc).__name__}: {exc}"
                continue
            if answer is None or answer.price <= 0 or answer.qty <= 0:
                notes[named.name] = "no price yet"
                continue
            if answer.qty >= expected_qty:
                return answer
            notes[named.name] = f"partial {answer.qty} of {expected_qty}"
            if partial is None or answer.qty > partial.qty:
                partial = answer
        remaining = deadline - clock()
        if remaining <= 0:
            return _unknown(notes, partial)
        await asyncio.sleep(min(poll_interval, remaining))


def _unknown(notes: dict[str, str], partial: ExecutionPrice | None) -> ExecutionPrice | FillUnknown:
    if partial is not None:
        return partial
    reason = "; ".join(f"{name}: {note}" for name, note in notes.items()) or "deadline already passed"
    return FillUnknown(reason=f"no execution price before the deadline ({reason})", raw=dict(notes))
