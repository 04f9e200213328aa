"""The soak's checks find what they look for: each one, given a venue record that breaks its
promise, reports it (and a record that keeps it passes), so a quiet soak means something."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from tests.soak.checks import duplicate_entries, exposure, left_behind, ratchets, stop_prices
from warden.domain.ids import client_order_id, position_id
from warden.domain.values import Side

T0 = 1_000_000
RUN = SimpleNamespace(outages=lambda: [], snapshot_mono=100.0)


def venue(requests=(), coverage=(), orders=(), positions=(), history=None) -> dict:
    return {"requests": list(requests), "coverage": list(coverage), "now_ms": T0 + 10_000,
            "state": {"orders": list(orders), "positions": list(positions)},
            "history": history or {"BTCUSDT": [(T0 - 5000, Decimal("60000"))]}}


def stop(trigger: str, at_ms: int, side: str = "SELL", code: int | None = None) -> dict:
    return {"venue": "binance", "method": "POST", "path": "/fapi/v1/algoOrder", "api_key": "binance-key",
            "params": {"symbol": "BTCUSDT", "side": side, "triggerPrice": trigger, "type": "STOP_MARKET"},
            "time_ms": at_ms, "status": 200 if code is None else 400, "code": code}


def life(gaps=(), opened=T0, closed=None, side="buy") -> dict:
    return {"account": "binance", "symbol": "BTCUSDT", "position_idx": 0, "side": side,
            "opened_ms": opened, "closed_ms": closed, "covered": True, "gaps": list(gaps)}


def order(client_id: str, status: str = "filled", kind: str = "plain", qty: str = "0.01") -> dict:
    return {"account": "binance", "symbol": "BTCUSDT", "client_id": client_id, "status": status,
            "kind": kind, "id": 1, "trigger_price": "", "price": "", "qty": qty, "close_position": False}


def test_a_second_entry_order_for_one_signal_is_reported():
    run = SimpleNamespace(signals={"s1": {"exchange": "binanceusdm", "account": "binance"}})
    pid = position_id("binanceusdm", "binance", "s1")
    one = venue(orders=[order(client_order_id(pid, "entry"))])
    two = venue(orders=[order(client_order_id(pid, "entry")), order(client_order_id(pid, "entry", 1))])

    assert list(duplicate_entries(run, one)) == []
    assert [c for c, _ in duplicate_entries(run, two)] == ["duplicate_entry"]


def test_a_stop_at_zero_or_above_every_recent_mark_of_a_long_is_reported():
    good = venue([stop("58800", T0)], [life()])
    zero = venue([stop("0", T0)], [life()])
    above = venue([stop("60100", T0)], [life()])

    assert list(stop_prices(RUN, good, [])) == []
    assert [c for c, _ in stop_prices(RUN, zero, [])] == ["stop_price"]
    assert [c for c, _ in stop_prices(RUN, above, [])] == ["stop_price"]


def test_a_stop_placed_while_the_mark_was_still_on_its_side_is_not_blamed():
    moved = {"BTCUSDT": [(T0 - 5000, Decimal("61000")), (T0 - 300, Decimal("60000"))]}

    assert list(stop_prices(RUN, venue([stop("60500", T0)], [life()], history=moved), [])) == []


def test_a_move_gap_an_open_gap_and_an_entry_past_its_bound_are_reported():
    run = SimpleNamespace(outages=lambda: [], snapshot_mono=100.0)
    entry = {"kind": "entry", "start_ms": T0, "end_ms": T0 + 20, "duration_ms": 20}
    move = {"kind": "move", "start_ms": T0 + 50, "end_ms": T0 + 50, "duration_ms": 0}
    open_ = {"kind": "entry", "start_ms": T0, "end_ms": None, "duration_ms": 10_000}
    slow = {"kind": "entry", "start_ms": T0, "end_ms": T0 + 99_000, "duration_ms": 99_000}

    assert list(exposure(run, venue(coverage=[life([entry])]))) == []
    for gap in (move, open_, slow):
        assert [c for c, _ in exposure(run, venue(coverage=[life([entry, gap])]))] == ["naked"]


def test_an_entry_gap_across_an_outage_is_allowed_the_downtime():
    slow = {"kind": "entry", "start_ms": T0, "end_ms": T0 + 60_000, "duration_ms": 60_000}
    record = {**venue(coverage=[life([slow])]), "now_ms": T0 + 70_000}
    # read at monotonic 200 s, 70 s after the fill: the gap spans 130..190, warden down 131..185
    down = SimpleNamespace(outages=lambda: [(131.0, 185.0)], snapshot_mono=200.0)
    up = SimpleNamespace(outages=lambda: [], snapshot_mono=200.0)

    assert list(exposure(down, record)) == []
    assert [c for c, _ in exposure(up, record)] == ["naked"]


def test_an_order_left_on_a_flat_symbol_and_a_second_stop_are_reported():
    pending = order("wstop", status="untriggered", kind="conditional")
    position = {"account": "binance", "symbol": "BTCUSDT", "qty": "0.01"}
    flat = venue(orders=[pending])
    held = venue(orders=[pending], positions=[position])
    doubled = venue(orders=[pending, pending], positions=[position])

    assert [c for c, _ in left_behind(flat)] == ["left_behind"]
    assert list(left_behind(held)) == []
    assert [c for c, _ in left_behind(doubled)] == ["left_behind"]


def test_a_stop_loosened_on_the_venue_is_reported():
    history = {"BTCUSDT": [(T0 - 5000, Decimal("62000"))]}
    tighter = venue([stop("58800", T0 + 1), stop("60000", T0 + 2)], [life()], history=history)
    looser = venue([stop("60000", T0 + 1), stop("58800", T0 + 2)], [life()], history=history)
    refused = venue([stop("60000", T0 + 1), stop("58800", T0 + 2, code=-2021)], [life()], history=history)

    assert list(ratchets(tighter, [])) == []
    assert [c for c, _ in ratchets(looser, [])] == ["ratchet"]
    assert list(ratchets(refused, [])) == []


def test_a_stop_for_part_of_the_position_is_reported():
    part = order("wstop", status="untriggered", kind="conditional", qty="0.004")
    whole = {**part, "close_position": True}
    position = {"account": "binance", "symbol": "BTCUSDT", "qty": "-0.01"}

    assert [c for c, _ in left_behind(venue(orders=[part], positions=[position]))] == ["underprotected"]
    assert list(left_behind(venue(orders=[whole], positions=[position]))) == []


def test_a_stop_just_after_a_restart_is_not_blamed_on_the_venue_marks_but_the_log_is_checked():
    above = venue([stop("60100", T0)], [life()])
    # sent at monotonic 90 (the snapshot at 100 is 10 s after T0): warden was back at 89
    restarted = SimpleNamespace(outages=lambda: [(80.0, 89.0)], snapshot_mono=100.0)
    pid = position_id("binanceusdm", "binance", "s1")

    assert list(stop_prices(restarted, above, [])) == []
    seen = [event("SignalAccepted", pid, side=Side.LONG),
            event("MarkPriceObserved", pid, price=Decimal("60000")),
            event("StopLossRequested", pid, price=Decimal("60100"))]
    assert [c for c, _ in stop_prices(restarted, above, seen)] == ["stop_price"]


def event(name: str, pid, **fields):
    """A stand-in for a logged event: the checks read events by class name and fields."""
    return type(name, (), {"originator_id": pid, **fields})()
