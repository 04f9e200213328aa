"""A scripted outside world for ``warden demo``: a signal feed and exchange answers played in order.

It drives the real domain (aggregates, policies, phantom detection) and the real event store, and
replays the seed incident's faults: an order query that reports an execution price of 0, a stop
rejected for precision, and an untracked BTCUSDT position. The live engine and the simulated
exchange replace this script once they land (see the open issues).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from adapters.store import WardenStore
from domain.account import ExchangeAccount
from domain.errors import DomainError
from domain.instrument import Instrument
from domain.policies import AgedExitPolicy, InitialStopPolicy, TrailingStopPolicy
from domain.position import Position
from domain.reports import PositionReport
from domain.values import CloseReason, PriceSource, ReportSource, Side
from projections.phantoms import find_phantoms
from projections.timeline import build_timeline, show

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SATS = Instrument("10000SATSUSDT", D("0.0000001"), D("100"), D("100"), D("0.0000001"))
ETH = Instrument("ETHUSDT", D("0.01"), D("0.001"), D("0.001"), D("0.01"), D("5"))
BTC = Instrument("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), D("0.1"), D("5"))
XRP = Instrument("XRPUSDT", D("0.0001"), D("0.1"), D("0.1"), D("0.0001"), D("5"))
PRECISION = "price must be greater than minimum price precision"


class Session:
    def __init__(self, store: WardenStore, echo: Callable[[str], None]) -> None:
        self.store, self.echo, self.now = store, echo, T0
        self.initial = InitialStopPolicy(D("2"))
        self.trailing = TrailingStopPolicy(D("1.5"), D("0.5"), min_step_ticks=5)
        self.aged = AgedExitPolicy()
        self.positions: list[Position] = []

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def log(self, position: Position, message: str) -> None:
        self.echo(f"  {self.now:%H:%M:%S} {position.symbol:<14} {position.status.name:<9} {message}")

    def open(self, venue: str, signal_id: str, side: Side, qty: str, instrument: Instrument) -> Position:
        position = Position.open(venue=venue, account="main", signal_id=signal_id, symbol=instrument.symbol,
                                 side=side, quantity=D(qty), instrument=instrument, at=self.tick(),
                                 raw={"signal_id": signal_id, "side": side.value, "qty": qty})
        position.record_entry_order(client_order_id=f"w-{signal_id}", order_id=f"{venue}-{signal_id}",
                                    at=self.tick(), raw={"orderId": f"{venue}-{signal_id}"})
        self.positions.append(position)
        self.log(position, f"signal {signal_id}: {side.name} {qty}, entry order sent")
        return position

    def fill(self, position: Position, answers: list[tuple[PriceSource, str]]) -> None:
        """Try each venue answer in order, as the adapter's fallback chain does."""
        for source, price in answers:
            try:
                position.fill(price=D(price), quantity=position.quantity, source=source, at=self.tick(),
                              order_id=position.entry_order_id, fee=D("0.05"), raw={"avgPrice": price})
            except DomainError as refused:
                position.refuse_fill(price=D(price), quantity=position.quantity, source=source,
                                     reason=str(refused), at=self.now, raw={"avgPrice": price})
                self.log(position, f"refused fill from {source.name}: {refused}")
                continue
            self.log(position, f"filled at {price} (from {source.name})")
            return

    def protect(self, position: Position, rejections: list[str]) -> bool:
        """Place the initial stop; each entry of ``rejections`` is one venue refusal."""
        fill = position.entry_price
        stop = self.initial.stop_for(position.side, fill, position.instrument)
        for reason in rejections:
            position.request_stop(price=stop, reference_price=fill, purpose="initial", at=self.tick())
            position.stop_rejected(price=stop, code="10001", reason=reason, at=self.tick(),
                                   raw={"retCode": 10001, "retMsg": reason})
            self.log(position, f"stop {stop} rejected: {reason}")
        if len(rejections) >= 3:
            return False
        position.request_stop(price=stop, reference_price=fill, purpose="initial", at=self.tick())
        position.stop_placed(price=stop, reference_price=fill, order_id=None, at=self.tick(),
                             raw={"retCode": 0, "stopLoss": str(stop)})
        self.log(position, f"stop placed at {show(stop)} ({self.initial.percent}% from the real fill)")
        return True

    def walk(self, position: Position, prices: list[str]) -> None:
        """Mark prices arrive; the trailing policy decides; a crossed stop closes the position."""
        for text in prices:
            price = D(text)
            position.observe_mark(price=price, source=PriceSource.MARK, at=self.tick(5),
                                  raw={"markPrice": text})
            if position.side.sign * (price - position.stop_price) <= 0:
                reason = CloseReason.TRAILING_STOP_HIT if position.status.name == "TRAILING" \
                    else CloseReason.STOP_HIT
                position.close(exit_price=position.stop_price, fees=D("0.05"), reason=reason, at=self.tick())
                self.log(position, f"{reason.name} at {show(position.exit_price)}, "
                                   f"PnL {show(position.realized_pnl)}")
                return
            if position.status.name == "PROTECTED" and self.trailing.should_activate(
                    position.side, position.entry_price, price):
                position.activate_trailing(price=price, activation_percent=self.trailing.activation_percent,
                                           at=self.tick())
                self.log(position, f"trailing activated at {text}")
            if position.status.name == "TRAILING":
                target = self.trailing.next_stop(position.side, position.best_price, position.stop_price,
                                                 position.instrument)
                if target is not None:
                    position.stop_moved(new_price=target, reference_price=position.best_price,
                                        order_id=None, at=self.tick())
                    self.log(position, f"stop moved to {show(target)} (best {show(position.best_price)})")

    def age_out(self, position: Position, mark: str) -> None:
        hours = self.aged.max_age_seconds // 3600
        self.tick(self.aged.max_age_seconds)
        age = int((self.now - position.opened_at).total_seconds())
        position.age(age_seconds=age, max_age_seconds=self.aged.max_age_seconds, at=self.now)
        self.log(position, f"older than {hours}h: aged")
        for wait in (0, 1800):
            age = int((self.tick(wait) - position.opened_at).total_seconds())
            decision = self.aged.decision(position.side, position.entry_price, age, position.instrument)
            position.enter_aged_phase(phase=decision.phase, limit_price=decision.limit_price, at=self.now)
            self.log(position, f"aged phase {decision.phase}: exit at {show(decision.limit_price)} or better")
        position.request_close(reason=CloseReason.AGED_EXIT, client_order_id="aged-exit",
                               limit_price=decision.limit_price, at=self.tick())
        position.close(exit_price=D(mark), fees=D("0.05"), reason=CloseReason.AGED_EXIT, at=self.tick())
        self.log(position, f"aged exit at {mark}, PnL {show(position.realized_pnl)}")


def run_scripted_session(store: WardenStore, store_url: str, echo: Callable[[str], None]) -> list[str]:
    """Play the script, store every event, print timelines; return invariant violations (none = ok)."""
    s = Session(store, echo)
    echo(f"warden demo: scripted session, events in {store.config.display}\n")

    sats = s.open("bybit", "sig-1", Side.LONG, "120000", SATS)
    s.fill(sats, [(PriceSource.ORDER_RESPONSE, "0.0"), (PriceSource.ORDER_QUERY, "0.0"),
                  (PriceSource.EXECUTIONS, "0.0002731")])
    s.protect(sats, [PRECISION])
    s.walk(sats, ["0.0002740", "0.0002790", "0.0002805", "0.0002831", "0.0002820", "0.0002790"])

    eth = s.open("binanceusdm", "sig-2", Side.SHORT, "0.500", ETH)
    s.fill(eth, [(PriceSource.ORDER_RESPONSE, "3012.45")])
    s.protect(eth, [])
    s.walk(eth, ["3010.00", "3005.12"])
    s.age_out(eth, "3013.90")

    xrp = s.open("bybit", "sig-3", Side.LONG, "500.0", XRP)
    s.fill(xrp, [(PriceSource.ORDER_QUERY, "0.5120")])
    if not s.protect(xrp, [PRECISION, PRECISION, "Stop loss price is invalid"]):
        xrp.request_close(reason=CloseReason.ROLLED_BACK, client_order_id="rollback", limit_price=None,
                          at=s.tick())
        xrp.roll_back(reason="stop rejected 3 times", exit_price=D("0.5117"), fees=D("0.05"), at=s.tick())
        s.log(xrp, "could not be protected: closed at market (rolled back)")

    account = ExchangeAccount.register(venue="bybit", account="main", at=s.tick())
    report = PositionReport("bybit", "main", "BTCUSDT", Side.LONG, D("0.015"), D("64210.5"), D("64233.0"),
                            ReportSource.WEBSOCKET, exchange_time=s.now,
                            raw={"topic": "position", "symbol": "BTCUSDT", "size": "0.015"})
    account.record(report, at=s.tick())
    for phantom in find_phantoms(account, s.positions):
        echo(f"  {s.now:%H:%M:%S} {phantom.symbol:<14} PHANTOM   open on {phantom.venue} "
             "but untracked: adopting")
        adopted = Position.adopt(venue=phantom.venue, account=phantom.account, symbol=phantom.symbol,
                                 side=phantom.side, quantity=phantom.size, entry_price=phantom.entry_price,
                                 price_source=PriceSource.POSITION, instrument=BTC, at=s.tick(),
                                 raw=phantom.raw)
        s.positions.append(adopted)
        s.protect(adopted, [])

    store.save(account, *s.positions)
    echo("")
    for position in s.positions:
        echo(f"{position.symbol} {position.id}")
        echo(build_timeline(store.history(position.id)).render() + "\n")
    echo(f"{'symbol':<14} {'venue':<12} {'side':<6} {'status':<9} {'entry':>12} {'stop':>12} "
         f"{'close reason':<18} {'PnL':>10}")
    for p in s.positions:
        echo(f"{p.symbol:<14} {p.venue:<12} {p.side.name:<6} {p.status.name:<9} {show(p.entry_price):>12} "
             f"{show(p.stop_price) if p.stop_price else '-':>12} "
             f"{p.close_reason.name if p.close_reason else '-':<18} "
             f"{show(p.realized_pnl) if p.realized_pnl is not None else '-':>10}")
    echo(f"\nreplay any position: warden replay {str(s.positions[0].id)[:8]} --store {store_url}")
    return check_invariants(store, s.positions)


def check_invariants(store: WardenStore, positions: list[Position]) -> list[str]:
    violations = []
    for p in positions:
        if store.repository.get(p.id).state() != p.state():
            violations.append(f"{p.symbol}: rebuilt from the store differs from the live aggregate")
        if p.is_open and not p.is_protected:
            violations.append(f"{p.symbol}: open but unprotected ({p.status.name})")
        if p.entry_price is not None and p.entry_price <= 0:
            violations.append(f"{p.symbol}: entry price {p.entry_price}")
    return violations
