"""A save the store refuses, in the middle of the engine's work: the position is put back to what
the store holds, the step that followed it is refused rather than written after a hole, nothing is
sent to the venue for it, and the next price carries on from the stored state without a gap."""

from __future__ import annotations

import logging
from decimal import Decimal

from eventsourcing.persistence import IntegrityError

from tests.integration.engine.conftest import signal
from tests.integration.engine.test_trailing_and_aged import stops_sent
from tests.integration.engine.venue_state import held_stops
from warden.adapters.writer import VersionGap
from warden.domain.lifecycle import Status
from warden.domain.values import PriceSource


async def test_a_refused_save_puts_the_position_back_and_the_next_mark_trails_from_the_log(
        sim, make_engine, store, caplog):
    engine = await make_engine()
    outcome = await engine.submit(signal("refused"))
    await engine.idle()
    p = engine.positions[outcome.position_id]
    sent_before = stops_sent(sim, "bybit")
    # someone else records the position's next version behind warden's back
    rival = store.load(p.id)
    rival.observe_mark(price=Decimal("60050"), source=PriceSource.MARK, at=engine.ctx.now())
    store.save(rival)

    sim.control.set_price("BTCUSDT", "61000")
    with caplog.at_level(logging.ERROR):
        await engine.on_mark("bybit", "BTCUSDT", Decimal("61000"), at=engine.ctx.now())
        await engine.idle()
    refused = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert refused and all(isinstance(e, VersionGap | IntegrityError) for e in refused), caplog.text
    assert p.state() == store.load(p.id).state() and p.status is Status.PROTECTED
    assert stops_sent(sim, "bybit") == sent_before  # no move without its recorded intent

    await engine.on_mark("bybit", "BTCUSDT", Decimal("61010"), at=engine.ctx.now())
    await engine.idle()

    versions = [e.originator_version for e in store.history(p.id)]
    assert versions == list(range(1, p.version + 1))  # no gap
    assert p.status is Status.TRAILING and p.state() == store.load(p.id).state()
    [held] = held_stops(sim, "bybit")
    assert held.price == p.stop_price > Decimal(sent_before[-1])
