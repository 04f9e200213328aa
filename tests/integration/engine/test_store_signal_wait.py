"""A signal that arrives just as the store stops answering, before the outage is noticed: the bot
gets 503 (retry later) within about a second whatever the store does, and its retry can never make
two entries.

- The store fails the signal's save (the server went away): the save is withdrawn and never
  written, and the retry once the store is back opens the position, with one entry order.
- The store hangs, then commits the save after the 503: the position is closed before anything is
  sent (`EntryRejected`, code ``store_unavailable``) and the retry is refused, so the signal the
  bot was told was not taken is never opened. The same for a signal that would add to an open
  position (scale-in): its claim commits late, nothing is added, the retry is refused.

The store is the engine tests' in-memory one with its recorder made to fail or hang, as the
writer tests do (tests/integration/store/test_writer.py), from the commit that holds the signal
on; the intake is real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

from eventsourcing.persistence import OperationalError

from tests.integration.engine.conftest import ACCOUNTS, FAST, events_of, signal
from tests.integration.engine.test_service import eventually
from tests.integration.engine.test_store_outage import entry_orders
from tests.integration.intake.conftest import serve  # noqa: F401 (a fixture)
from warden.domain.ids import position_id
from warden.domain.lifecycle import Status
from warden.engine.signals import SIGNAL_STORE_WAIT_S

ANSWERED_WITHIN_S = 1.5  # the engine's bound (SIGNAL_STORE_WAIT_S, 1 s) and the HTTP round trip


def signal_in(stored, first=":SignalAccepted") -> bool:
    return any(s.topic.endswith(first) for s in stored)


def down_from_the_signal(store) -> None:
    """The server goes away just as the signal's save is committed: that commit fails, and every
    one after it, until `recovered`."""
    real = type(store.recorder)
    down = []

    class Failing(real):  # type: ignore[misc, valid-type]
        def commit(self, stored, snapshots=()):
            if down or signal_in(stored):
                down.append(1)
                raise OperationalError("server closed the connection")
            return real.commit(self, stored, snapshots)

    store.recorder.__class__ = Failing


def hanging_on_the_signal(store, first=":SignalAccepted") -> threading.Event:
    """The commit of the signal's save (its first event's topic ends with ``first``) hangs (the
    server takes it and does not answer) until the returned event is set; then it commits."""
    real = type(store.recorder)
    release = threading.Event()

    class Hanging(real):  # type: ignore[misc, valid-type]
        def commit(self, stored, snapshots=()):
            if signal_in(stored, first):
                release.wait(30)
            return real.commit(self, stored, snapshots)

    store.recorder.__class__ = Hanging
    return release


def recovered(store) -> None:
    store.recorder.__class__ = type(store.recorder).__mro__[1]


async def timed_post(client, payload):
    started = time.monotonic()
    reply = await client.post(payload)
    return reply, time.monotonic() - started


async def test_a_signal_whose_save_fails_gets_503_at_once_and_its_retry_opens_it_once(
        sim, make_engine, store, serve):  # noqa: F811 (the imported fixture)
    engine = await make_engine(venues=("bybit",), signal_wait_s=SIGNAL_STORE_WAIT_S)
    _, client = await serve(engine)
    down_from_the_signal(store)

    reply, took = await timed_post(client, signal("failed"))
    assert reply.http == 503 and "store unavailable" in reply.body["reason"], reply.body
    assert took < ANSWERED_WITHIN_S
    assert not engine.positions and entry_orders(sim) == 0

    recovered(store)
    await eventually(lambda: store.available, timeout=5)
    again = await client.post(signal("failed"))
    assert again.http == 202, again.body
    await engine.idle()
    p = engine.positions[position_id("bybit", ACCOUNTS["bybit"][0], "failed")]
    assert p.status is Status.PROTECTED
    names = events_of(store, p.id)
    assert names[0] == "SignalAccepted" and names.count("SignalAccepted") == 1
    assert entry_orders(sim) == 1


async def test_a_signal_whose_save_commits_after_its_503_is_closed_unopened_and_never_retried_into_an_entry(
        sim, make_engine, store, serve):  # noqa: F811 (the imported fixture)
    engine = await make_engine(venues=("bybit",), signal_wait_s=SIGNAL_STORE_WAIT_S)
    _, client = await serve(engine)
    release = hanging_on_the_signal(store)
    pid = position_id("bybit", ACCOUNTS["bybit"][0], "hung")

    reply, took = await timed_post(client, signal("hung"))
    assert reply.http == 503 and "store unavailable" in reply.body["reason"], reply.body
    assert took < ANSWERED_WITHIN_S
    retried, took = await timed_post(client, signal("hung"))  # the store still hangs
    assert retried.http == 503 and took < ANSWERED_WITHIN_S

    release.set()  # the save the bot was told 503 about commits after all
    await eventually(lambda: "EntryRejected" in events_of(store, pid), timeout=10)
    [rejected] = [e for e in store.history(pid) if type(e).__name__ == "EntryRejected"]
    assert rejected.code == "store_unavailable"
    assert events_of(store, pid) == ["SignalAccepted", "EntryRejected"]  # nothing was sent

    retried = await client.post(signal("hung"))
    assert retried.http == 400 and "new signal id" in retried.body["reason"], retried.body
    await engine.idle()
    await asyncio.sleep(0.2)
    assert not engine.positions and entry_orders(sim) == 0
    assert events_of(store, pid) == ["SignalAccepted", "EntryRejected"]


async def test_a_scale_in_signal_whose_claim_commits_after_its_503_adds_nothing_then_or_on_its_retry(
        sim, make_engine, store, serve):  # noqa: F811 (the imported fixture)
    engine = await make_engine(config=replace(FAST, scale_in=True), venues=("bybit",),
                               signal_wait_s=SIGNAL_STORE_WAIT_S)
    _, client = await serve(engine)
    assert (await client.post(signal("first"))).http == 202
    await engine.idle()
    [p] = engine.positions.values()
    quantity, version = p.filled_qty, p.version
    release = hanging_on_the_signal(store, first=":SignalClaim.Claimed")

    reply, took = await timed_post(client, signal("add"))
    assert reply.http == 503 and "store unavailable" in reply.body["reason"], reply.body
    assert took < ANSWERED_WITHIN_S
    release.set()
    claim_id = position_id("bybit", ACCOUNTS["bybit"][0], "add")
    await eventually(lambda: store.history(claim_id) != [], timeout=10)  # it committed after all

    retried = await client.post(signal("add"))
    assert retried.http == 400 and "new signal id" in retried.body["reason"], retried.body
    await engine.idle()
    assert p.filled_qty == quantity and entry_orders(sim) == 1  # nothing added, then or now
    assert "ScaleInRequested" not in events_of(store, p.id)[version:]
