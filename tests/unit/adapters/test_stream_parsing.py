"""Native Bybit and Binance frames, push de-duplication, backoff and the feed comparator."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from warden.adapters.streams import binance_frames
from warden.adapters.streams.bybit_frames import ControlFrame, parse_frame
from warden.adapters.streams.compare import FeedComparator, Mismatch
from warden.adapters.streams.dedup import Sequencer
from warden.adapters.streams.events import StreamRejection
from warden.adapters.streams.supervision import Backoff
from warden.domain.reports import FillReport, OrderReport, PositionReport
from warden.domain.values import OrderSide, OrderStatus, ReportSource, Side

POSITION = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.012", "avgPrice": "60010.5",
            "markPrice": "60000.1", "stopLoss": "", "updatedTime": "1700000000000"}
EXECUTION = {"execId": "e1", "orderId": "o1", "orderLinkId": "", "symbol": "BTCUSDT", "side": "Buy",
             "execType": "Trade", "execPrice": "60010.5", "execQty": "0.012", "execFee": "0.39",
             "execTime": "1700000000000"}


def frame(topic: str, *items: object) -> str:
    return json.dumps({"id": "1", "topic": topic, "creationTime": 1, "data": list(items)})


def test_garbage_frames_become_typed_rejections_with_the_raw_text() -> None:
    for text in ("not json {", "[1, 2]", json.dumps({"topic": "wallet?", "data": []})):
        [item] = parse_frame(text, "bybit", "acc")
        assert isinstance(item, StreamRejection) and item.raw_text == text


def test_a_bad_item_is_rejected_without_losing_the_good_ones() -> None:
    items = parse_frame(frame("position", POSITION, {"size": "1"}, "x"), "bybit", "acc")
    assert isinstance(items[0], PositionReport) and items[0].source is ReportSource.WEBSOCKET
    assert all(isinstance(i, StreamRejection) for i in items[1:]) and len(items) == 3


def test_executions_other_than_trades_are_not_fills() -> None:
    items = parse_frame(frame("execution", EXECUTION, {**EXECUTION, "execType": "Funding"}),
                        "bybit", "acc")
    assert [type(i) for i in items] == [FillReport]


def test_auth_answers_are_control_frames() -> None:
    [ack] = parse_frame('{"success":false,"ret_msg":"invalid key","op":"auth"}', "bybit", "acc")
    assert isinstance(ack, ControlFrame) and (ack.op, ack.success) == ("auth", False)


BINANCE_ORDER = {"s": "BTCUSDT", "c": "cid-1", "S": "BUY", "o": "MARKET", "q": "0.010", "ap": "60010.5",
                 "x": "TRADE", "X": "FILLED", "i": 1001, "l": "0.010", "z": "0.010", "L": "60010.5",
                 "N": "USDT", "n": "0.30", "T": 1700000000000, "t": 7, "R": False, "ps": "BOTH"}


def binance(event: dict) -> list[object]:
    return binance_frames.parse_frame(json.dumps(event), "binanceusdm", "acc")


def test_a_binance_trade_update_is_an_order_and_a_fill_and_a_new_one_only_an_order() -> None:
    order_, fill = binance({"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": BINANCE_ORDER})
    assert isinstance(order_, OrderReport) and order_.status is OrderStatus.FILLED
    assert isinstance(fill, FillReport) and (fill.trade_id, fill.price) == ("7", Decimal("60010.5"))
    [new] = binance({"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1,
                     "o": {**BINANCE_ORDER, "x": "NEW", "X": "NEW", "z": "0", "l": "0"}})
    assert new.status is OrderStatus.NEW


def test_a_binance_account_update_is_one_position_per_item_stamped_with_the_event_time() -> None:
    [short] = binance({"e": "ACCOUNT_UPDATE", "E": 1700000000123, "T": 1, "a": {"m": "ORDER", "B": [], "P": [
        {"s": "ETHUSDT", "pa": "-0.50", "ep": "3000", "ps": "BOTH"}]}})
    assert (short.side, short.size, short.entry_price) == (Side.SHORT, Decimal("0.50"), Decimal(3000))
    assert short.exchange_time == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)


def test_binance_frames_that_are_not_reports() -> None:
    [expired] = binance({"e": "listenKeyExpired", "E": 1, "listenKey": "k"})
    assert isinstance(expired, binance_frames.ListenKeyExpired)
    assert binance({"e": "TRADE_LITE", "E": 1}) == [] and binance({"result": None, "id": 1}) == []
    for bad in ({"e": "ACCOUNT_UPDATE", "a": {"P": "x"}}, {"e": "ORDER_TRADE_UPDATE", "o": [1]},
                {"e": "SOMETHING_NEW"}, [1, 2]):
        [rejection] = binance(bad)  # type: ignore[arg-type]
        assert isinstance(rejection, StreamRejection) and rejection.raw_text == json.dumps(bad)


def position(ms: int, size: str = "0.012") -> PositionReport:
    return PositionReport(venue="bybit", account="a", symbol="BTCUSDT", side=Side.LONG,
                          size=Decimal(size), entry_price=Decimal(100), mark_price=None,
                          source=ReportSource.WEBSOCKET,
                          exchange_time=datetime.fromtimestamp(ms / 1000, UTC))


def order(status: OrderStatus, filled: str, ms: int) -> OrderReport:
    return OrderReport(venue="bybit", symbol="BTCUSDT", order_id="o1", client_order_id=None,
                       status=status, side=OrderSide.BUY, qty=Decimal("1"), filled_qty=Decimal(filled),
                       average_price=None, reduce_only=False,
                       time=datetime.fromtimestamp(ms / 1000, UTC))


def test_duplicated_and_older_position_pushes_are_dropped() -> None:
    seq = Sequencer()
    assert seq.admit(position(2000))
    assert not seq.admit(position(2000))  # duplicate
    assert not seq.admit(position(1000, "0.5"))  # older, out of order
    assert seq.admit(position(3000, "0"))
    assert seq.positions()["BTCUSDT"].size == 0


def test_a_rest_repeat_of_a_pushed_position_is_no_news() -> None:
    seq = Sequencer()
    assert seq.admit(position(2000))
    assert not seq.admit(replace(position(2000), source=ReportSource.REST))


def test_order_updates_never_go_backwards() -> None:
    seq = Sequencer()
    assert seq.admit(order(OrderStatus.FILLED, "1", 2000))
    assert not seq.admit(order(OrderStatus.NEW, "0", 1000))
    assert not seq.admit(order(OrderStatus.PARTIALLY_FILLED, "0.5", 2000))
    assert not seq.admit(order(OrderStatus.FILLED, "1", 2000))


def test_a_fill_is_admitted_once() -> None:
    seq = Sequencer()
    [fill] = parse_frame(frame("execution", EXECUTION), "bybit", "acc")
    assert seq.admit(fill) and not seq.admit(fill)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    low, high = Backoff(base=1, cap=8, rng=lambda: 0.0), Backoff(base=1, cap=8, rng=lambda: 0.999)
    assert [low.delay(n) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert 7.9 < high.delay(10) < 8.0


def test_the_comparator_compares_how_things_ended_once_settled() -> None:
    now = [0.0]
    comp = FeedComparator(window=1.0, clock=lambda: now[0])
    # the baseline saw New then Filled, the candidate only Filled (ccxt.pro merged the two)
    comp.add(order(OrderStatus.NEW, "0", 4), baseline=True)
    comp.add(order(OrderStatus.FILLED, "1", 5), baseline=True)
    comp.add(order(OrderStatus.FILLED, "1", 5), baseline=False)
    comp.add(position(1000), baseline=True)
    comp.add(replace(position(1000), mark_price=Decimal(99)), baseline=False)  # a mark is not an end
    now[0] = 0.9
    assert comp.expire() == [] and comp.matched == 0  # not settled yet
    now[0] = 1.0
    assert comp.expire() == [] and comp.agreed == {"order": 1, "position": 1}


def test_the_comparator_reports_missing_extra_and_differing() -> None:
    now = [0.0]
    comp = FeedComparator(window=1.0, clock=lambda: now[0])
    comp.add(order(OrderStatus.FILLED, "1", 5), baseline=True)
    comp.add(replace(order(OrderStatus.FILLED, "1", 5), average_price=Decimal(7)), baseline=False)
    comp.add(position(2000), baseline=True)
    comp.add(replace(position(2000), symbol="ETHUSDT"), baseline=False)
    now[0] = 5.0
    found = {d.key: d.kind for d in comp.expire()}
    assert found == {("order", "o1"): Mismatch.DIFFERING, ("position", "BTCUSDT"): Mismatch.MISSING,
                     ("position", "ETHUSDT"): Mismatch.EXTRA}
    assert comp.matched == 0
