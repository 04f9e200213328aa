"""A store that fails while the engine looks an aggregate up is an error, never "not recorded yet".

Before, any exception there created a new account or signal book and kept it in memory, so after a
database hiccup warden carried on with an empty aggregate beside the recorded one. The lookups run
off the event loop (`EventStore.read`): a failure is `StoreUnavailable`, and a refused signal whose
book cannot be read is kept and recorded once it can.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from warden.adapters.store import open_store
from warden.domain.intake import SignalBook
from warden.domain.reports import PositionReport
from warden.domain.values import ReportSource, Side
from warden.engine.core import Engine
from warden.engine.errors import StoreUnavailable

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def events_table_gone(database: Path) -> Iterator[None]:
    """The store cannot read events (as when its database is unreachable), then recovers."""
    with sqlite3.connect(database, isolation_level=None) as db:
        db.execute("ALTER TABLE stored_events RENAME TO stored_events_away")
    try:
        yield
    finally:
        with sqlite3.connect(database, isolation_level=None) as db:
            db.execute("ALTER TABLE stored_events_away RENAME TO stored_events")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "warden.sqlite3"


async def test_an_unknown_account_is_registered(database):
    engine = Engine(open_store(f"sqlite:///{database}"), {})
    account = await engine.reconciler.account("bybit", "main")
    await engine.ctx.save()  # everything queued before is committed
    assert account.version == 1 and engine.ctx.store.repository.get(account.id).venue == "bybit"


async def test_a_store_failure_while_loading_an_account_does_not_register_a_new_one(database):
    store = open_store(f"sqlite:///{database}")
    first = Engine(store, {})
    account = await first.reconciler.account("bybit", "main")
    account.record(PositionReport("bybit", "main", "BTCUSDT", Side.LONG, Decimal("0.5"),
                                  Decimal("60000"), None, ReportSource.REST), at=AT)
    await first.ctx.save(account)

    restarted = Engine(open_store(f"sqlite:///{database}"), {})
    with events_table_gone(database), pytest.raises(StoreUnavailable):
        await restarted.reconciler.account("bybit", "main")
    assert not restarted.reconciler.accounts

    again = await restarted.reconciler.account("bybit", "main")
    assert again.version == 2 and again.last_report_at == AT


async def test_a_store_failure_while_loading_the_signal_book_does_not_open_a_new_one(database):
    first = Engine(open_store(f"sqlite:///{database}"), {})
    await first.record_rejection("s-1", "bad", {}, AT)
    await first.record_rejection("s-2", "bad", {}, AT)
    await first.ctx.save()

    restarted = Engine(open_store(f"sqlite:///{database}"), {})
    with events_table_gone(database):
        await restarted.record_rejection("s-3", "bad", {}, AT)  # kept: the book cannot be read
    assert restarted.signals._signal_book is None and len(restarted.signals._unrecorded) == 1
    await restarted.record_rejection("s-4", "bad", {}, AT)  # a new book here would collide with the old
    await restarted.ctx.save()

    book = restarted.ctx.store.repository.get(SignalBook.id_for(AT.date()))
    assert book.rejected == 4 and book.version == 5
    assert [e.signal_id for e in restarted.ctx.store.history(book.id)[1:]] == ["s-1", "s-2", "s-3", "s-4"]
