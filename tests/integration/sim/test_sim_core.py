"""The venue-neutral core: deterministic prices, netting, triggers and trailing stops."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from warden.sim.book import Account, OrderStatus, Reason, Rejected, Side, Trigger
from warden.sim.engine import Engine
from warden.sim.market import DEFAULT_INSTRUMENTS, ManualClock, PriceFeed


def _engine(seed: int = 0) -> tuple[Engine, Account]:
    engine = Engine(PriceFeed(DEFAULT_INSTRUMENTS, seed), ManualClock(0))
    return engine, engine.add_account(Account("a", "bybit", "k", "s"))


def test_same_seed_gives_the_same_walk_and_another_seed_does_not():
    def walk(seed: int) -> list[D]:
        feed = PriceFeed(DEFAULT_INSTRUMENTS, seed)
        return [feed.step()["BTCUSDT"] for _ in range(20)]

    assert walk(7) == walk(7) != walk(8)


def test_walk_stays_on_the_tick_for_tiny_prices():
    feed = PriceFeed(DEFAULT_INSTRUMENTS, 3)
    for _ in range(50):
        price = feed.step(["10000SATSUSDT"])["10000SATSUSDT"]
        assert price % D("0.0000001") == 0 and price > 0


def test_csv_replay_and_scripts_take_precedence_over_the_walk(tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text("ts,symbol,price\n1,BTCUSDT,61000\n2,BTCUSDT,61500.25\n")
    feed = PriceFeed(DEFAULT_INSTRUMENTS, 0)
    feed.load_csv(csv)
    feed.script("BTCUSDT", ["59000"])
    assert [feed.step(["BTCUSDT"])["BTCUSDT"] for _ in range(3)] == [
        D("59000"), D("61000"), D("61500.3")]


def test_position_flips_through_zero_at_the_fill_price():
    engine, account = _engine()
    engine.place_market(account, "BTCUSDT", Side.BUY, D("0.01"))
    engine.feed.set_price("BTCUSDT", "61000")
    engine.place_market(account, "BTCUSDT", Side.SELL, D("0.03"))
    position = account.position("BTCUSDT")
    assert (position.qty, position.entry_price) == (D("-0.02"), D("61000"))
    assert account.fills[-1].realized_pnl == D("10")      # (61000 - 60000) * 0.01


def test_reduce_only_trigger_with_nothing_to_close_is_deactivated():
    engine, account = _engine()
    engine.place_market(account, "BTCUSDT", Side.BUY, D("0.01"))
    stop = engine.place_trigger(account, "BTCUSDT", Side.SELL, D("0.01"), D("59000"),
                                Trigger.FALL)
    engine.place_market(account, "BTCUSDT", Side.SELL, D("0.01"), reduce_only=True)
    engine.feed.set_price("BTCUSDT", "58000")
    assert stop.status is OrderStatus.DEACTIVATED
    assert account.position("BTCUSDT").qty == 0


def test_insufficient_margin_is_refused():
    engine, account = _engine()
    account.wallet = D("50")
    with pytest.raises(Rejected) as caught:
        engine.place_market(account, "BTCUSDT", Side.BUY, D("0.01"))
    assert caught.value.reason is Reason.INSUFFICIENT_MARGIN


def test_trailing_stop_activates_ratchets_and_fires():
    engine, account = _engine()
    engine.place_market(account, "BTCUSDT", Side.BUY, D("0.01"))
    engine.set_position_stop(account, "BTCUSDT", None, trailing=D("500"), active_price=D("61000"))
    position = account.position("BTCUSDT")
    assert position.stop_loss is None
    for price, stop in (("60900", None), ("61000", "60500"), ("61500", "61000"),
                        ("61300", "61000")):
        engine.feed.set_price("BTCUSDT", price)
        assert position.stop_loss == (D(stop) if stop else None)
    engine.feed.set_price("BTCUSDT", "60990")
    assert position.qty == 0
    assert account.fills[-1].price == D("60990")


def test_slippage_moves_fills_against_the_taker():
    engine, account = _engine()
    engine.slippage_bps = D("10")
    engine.place_market(account, "BTCUSDT", Side.BUY, D("0.01"))
    assert account.fills[-1].price == D("60060")


def test_every_refusal_has_a_code_on_both_venues():
    from warden.sim import binance_shapes, bybit_shapes

    assert set(bybit_shapes.ERRORS) == set(Reason) == set(binance_shapes.ERRORS)


def test_a_resting_limit_order_never_fills_before_the_mark_reaches_it():
    engine, account = _engine()
    order = engine.place_limit(account, "BTCUSDT", Side.SELL, D("0.01"), D("60500"))
    for price in ("60100", "60499.9"):
        engine.feed.set_price("BTCUSDT", price)
        assert order.status is OrderStatus.NEW and not account.fills
    engine.feed.set_price("BTCUSDT", "60500")
    assert (order.status, account.fills[-1].price, account.fills[-1].maker) == (
        OrderStatus.FILLED, D("60500"), True)
