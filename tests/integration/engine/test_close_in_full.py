"""A position warden decided to close is closed on the venue in full (soak seed 7).

A hand order filling in pieces is adopted at the size warden first saw; when its stop cannot be
placed, warden closes it at market. The close is sized from the venue, what arrives after it is
closed too, a close that runs out of rounds is taken up again, and a push older than warden's own
close never brings the position back as a phantom."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tests.integration.engine.conftest import FAST
from tests.integration.engine.venue_state import events, open_orders, position_qty
from warden.domain.lifecycle import Intent, Status
from warden.domain.reports import PositionReport
from warden.domain.values import CloseReason, Origin, ReportSource, Side

VENUE, ACCOUNT = "binanceusdm", "binance"
PIECE = "0.010"


def adopted(engine, store):
    [position_id] = {e.originator_id for e in store.all_events() if type(e).__name__ == "PositionAdopted"}
    return store.repository.get(position_id)


@pytest.mark.parametrize("when", ["before the close is sent", "after the close order filled"])
async def test_an_adopted_position_that_grows_while_its_stop_is_refused_is_closed_in_full(
        sim, make_engine, store, when):
    """The hand order's second piece fills while warden, its stop refused three times, closes the
    first: the close must take all the venue holds, never leave the rest open with no stop."""
    grown: list[int] = []

    def rest_of_the_hand_order() -> None:
        if not grown:
            grown.append(sim.control.open_position(ACCOUNT, "BTCUSDT", "buy", PIECE))

    sim.control.open_position(ACCOUNT, "BTCUSDT", "buy", PIECE)  # the first piece: adopted
    sim.control.inject("reject_stop", venue=ACCOUNT, times=3)  # never protected: rolled back
    engine = await make_engine(
        venues=(VENUE,), start=False,
        checkpoint=lambda name: rest_of_the_hand_order()
        if name == "close-requested" and when == "before the close is sent" else None)
    if when == "after the close order filled":
        port = engine.ctx.ports[VENUE, ACCOUNT]
        close_market = port.close_market

        async def close_then_more_fills(*args, **kwargs):
            order = await close_market(*args, **kwargs)
            rest_of_the_hand_order()
            return order

        port.close_market = close_then_more_fills

    await engine.start()  # the start's snapshot finds the phantom, adopts it and rolls it back

    position = adopted(engine, store)
    assert grown, "the second piece never filled"
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.ROLLED_BACK
    assert position_qty(sim, VENUE) == 0 and open_orders(sim, VENUE) == []
    if when == "before the close is sent":  # the venue held 0.020 at once: warden records it
        assert position.origin is Origin.ADOPTED and position.filled_qty == Decimal("0.020")
        assert [e.size for e in events(store, position.id, "AdoptedPositionGrew")] == [Decimal("0.020")]
    else:  # never more than 0.010 at once: the rest is closed by a second intent of its own
        assert len(events(store, position.id, "CloseRequested")) == 2


async def test_a_close_that_runs_out_of_rounds_is_taken_up_again_by_the_reconciler(sim, make_engine, store):
    """The venue refuses the close for longer than its rounds: the intent stays pending (nothing
    is recorded closed while the venue holds it) and the next reconcile closes it."""
    sim.control.open_position(ACCOUNT, "BTCUSDT", "buy", PIECE)
    sim.control.inject("reject_stop", venue=ACCOUNT, times=3)
    sim.control.inject("http_error", venue=ACCOUNT, path="/fapi/v1/order", status=503)
    engine = await make_engine(config=replace(FAST, confirm_rounds=3), venues=(VENUE,))

    position = adopted(engine, store)
    assert position.pending_intent is Intent.CLOSE and position.is_open
    assert position_qty(sim, VENUE) == Decimal(PIECE)

    sim.control.clear_faults("http_error")
    await engine.reconciler.snapshot(VENUE, ACCOUNT)
    await engine.idle()

    position = adopted(engine, store)
    assert position.status is Status.CLOSED and position.close_reason is CloseReason.ROLLED_BACK
    assert position_qty(sim, VENUE) == 0 and open_orders(sim, VENUE) == []


async def test_a_push_older_than_the_venues_flat_position_is_not_adopted(sim, make_engine, store):
    """A report pushed for a piece of warden's own close (queued while the close ran) arrives
    after the close was recorded: the venue holds nothing, so there is nothing to adopt."""
    engine = await make_engine(venues=(VENUE,))
    stale = PositionReport(VENUE, ACCOUNT, "BTCUSDT", Side.LONG, Decimal(PIECE), Decimal("60000"),
                           Decimal("60000"), ReportSource.WEBSOCKET)

    await engine.on_position_report(stale)
    await engine.idle()

    assert not engine.positions
    assert not [e for e in store.all_events() if type(e).__name__ in ("PhantomDetected", "PositionAdopted")]
    assert open_orders(sim, VENUE) == []


async def test_a_pushed_phantom_is_adopted_when_the_venue_cannot_be_asked(sim, make_engine, store):
    """The query that confirms a pushed phantom fails: the push is taken as it is, never left
    unflagged for a failed query."""
    engine = await make_engine(venues=(VENUE,))
    sim.control.open_position(ACCOUNT, "BTCUSDT", "buy", PIECE)
    sim.control.inject("http_error", venue=ACCOUNT, path="positionRisk", status=503)
    pushed = PositionReport(VENUE, ACCOUNT, "BTCUSDT", Side.LONG, Decimal(PIECE), Decimal("60000"),
                            Decimal("60000"), ReportSource.WEBSOCKET)

    await engine.on_position_report(pushed)
    await engine.idle()

    [position] = engine.positions.values()
    assert position.origin is Origin.ADOPTED and position.status is Status.PROTECTED
    assert position.filled_qty == Decimal(PIECE)
