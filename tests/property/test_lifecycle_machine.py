"""The position lifecycle as a hypothesis state machine.

Rules are what the outside world does to an account's positions, one after the other: a signal or
an adopted phantom, fills (partial, full, impossible), marks, stops placed, rejected and trailed,
aging, closes, rollbacks, engine restarts and random commands that may well be illegal. Invariants
are the promises warden makes whatever order those come in.
"""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.property.commands import (
    COMMAND_EVENTS,
    ENDING_COMMANDS,
    OTHER_COMMANDS,
    plausible_arguments,
)
from tests.property.strategies import (
    aged_policies,
    initial_stop_policies,
    instruments,
    sides,
    stop_percents,
    trailing_percents,
    trailing_policies,
)
from warden.adapters.eventlog import export_log, import_log
from warden.adapters.store import open_store
from warden.domain import events as ev
from warden.domain.errors import DomainError, ImpossibleFill, InvalidStop, InvalidTransition
from warden.domain.lifecycle import (
    INITIAL,
    PROTECTED_STATUSES,
    TRANSITIONS,
    Intent,
    Status,
    reachable,
)
from warden.domain.policies import AgedExitPolicy, AgedStep, InitialStopPolicy, TrailingStopPolicy
from warden.domain.position import Position
from warden.domain.values import CloseReason, ExitAction, PriceSource, Side, StopPurpose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPORT_EVERY = 8  # steps between two export/import round trips (and one more at teardown)
OPEN = (Status.FILLED, Status.PROTECTED, Status.TRAILING, Status.AGED)
FILLABLE = (Status.PENDING, Status.FILLED, Status.PROTECTED)
EXIT_REASONS = (CloseReason.STOP_HIT, CloseReason.TRAILING_STOP_HIT, CloseReason.LIQUIDATED,
                CloseReason.CLOSED_EXTERNALLY, CloseReason.MANUAL, CloseReason.AGED_EXIT)
NEW_POSITION = {
    "adopted": st.booleans(), "side": sides,
    "instrument": instruments(min_price_ticks=st.just(1) | st.integers(1, 1000)),
    # Mostly liquid prices, sometimes a handful of ticks (where no 2% stop fits on the tick).
    "price_ticks": st.integers(2_000, 10**6) | st.integers(1, 2_000),
    "extra_lots": st.integers(0, 500),
    "stop_pct": st.none() | stop_percents, "activation_pct": st.none() | trailing_percents,
    "callback_pct": st.none() | trailing_percents, "initial": initial_stop_policies,
    "trailing": trailing_policies, "aged": aged_policies,
    # Commands before the market may end the position: keeps most lives long enough to trail.
    "patience": st.integers(0, 30),
}


def when(predicate: Any) -> Any:
    """A precondition on the current position (there always is one after `initialize`)."""
    return precondition(lambda self: self.position is not None and predicate(self, self.position))


def status_in(*statuses: Status) -> Any:
    return when(lambda self, position: position.status in statuses)


def may_end(*statuses: Status) -> Any:
    return when(lambda self, p: p.status in statuses and self.sent >= self.patience)


class PositionLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = open_store("memory://")
        self.position: Position | None = None
        self.expected: Status | None = None  # where the table says the position must be
        self.now, self.mark = T0, Decimal(0)
        self.request: tuple[Decimal, Decimal, StopPurpose] | None = None  # in flight: price, ref, purpose
        self.closed_state: dict[str, Any] | None = None
        self.read: tuple[Any, int] | None = None  # which history `recorded` holds
        self.recorded: list[Any] = []
        self.positions = self.sent = self.patience = self.checks = 0
        self.initial, self.trailing, self.aged = InitialStopPolicy(), TrailingStopPolicy(), AgedExitPolicy()

    # ----- the one way every command is sent ------------------------------------------------
    def send(self, command: str, **kwargs: Any) -> None:
        """Run a command: a refusal must change nothing, an acceptance must follow the table."""
        position, recorded = self.position, COMMAND_EVENTS[command]
        before, status, pending = position.state(), position.status, len(position.pending_events)
        allowed = TRANSITIONS[recorded].get(status)  # where the table leads, None if illegal
        self.now += timedelta(seconds=1)
        self.sent += 1
        try:
            getattr(position, command)(at=self.now, **kwargs)
        except DomainError as error:
            event(f"{command} refused: {type(error).__name__}")
            assert position.state() == before, f"{command} raised {error!r} and still changed state"
            assert len(position.pending_events) == pending, f"{command} raised {error!r} after an event"
            if allowed is not None:
                assert not isinstance(error, InvalidTransition), f"{status.name} refused {command}"
            else:
                assert isinstance(error, InvalidTransition), \
                    f"{status.name} -> {recorded.__name__}: {error!r}"
            raise
        event(f"{command} accepted in {status.name}")
        assert allowed is not None, f"{command} accepted in {status.name}"
        assert position.status is allowed
        assert len(position.pending_events) == pending + 1, f"{command} must record exactly one event"
        assert type(position.pending_events[-1]) is recorded, f"{command} recorded another event"
        self.expected = position.status
        if command == "request_stop":
            self.request = (kwargs["price"], kwargs["reference_price"], kwargs["purpose"])
        elif command in ("confirm_stop", "confirm_stop_move", "reject_stop"):
            self.request = None

    def attempt(self, command: str, **kwargs: Any) -> DomainError | None:
        try:
            self.send(command, **kwargs)
        except DomainError as error:
            return error
        return None

    # ----- what the policies say ------------------------------------------------------------
    @property
    def tick(self) -> Decimal:
        return self.position.instrument.tick_size

    def initial_stop(self) -> Decimal | None:
        p = self.position
        if p.entry_price is None:
            return None
        try:
            return self.initial.stop_for(p.side, p.entry_price, p.instrument, p.stop_loss_percent)
        except InvalidStop:
            return None

    def trail_target(self) -> Decimal | None:
        p = self.position
        return self.trailing.next_stop(p.side, p.best_price, p.stop_price, p.instrument,
                                       p.trailing_callback_percent)

    def age_seconds(self) -> int:
        return int((self.now - self.position.opened_at).total_seconds())

    def aged_step(self) -> AgedStep:
        p = self.position
        return self.aged.step(side=p.side, entry=p.entry_price, age_seconds=self.age_seconds(),
                              instrument=p.instrument, status=p.status, phase=p.aged_phase,
                              resting=p.exit_limit, refused=p.exit_refused)

    # ----- where a position comes from ------------------------------------------------------
    @initialize(**NEW_POSITION)
    def first_position(self, **kwargs: Any) -> None:
        self.begin(**kwargs)

    @status_in(Status.CLOSED)
    @rule(**NEW_POSITION)
    def next_position(self, **kwargs: Any) -> None:
        """The account trades on: a new signal (or phantom) after the last position closed."""
        self.begin(**kwargs)

    def begin(self, adopted, instrument, side, price_ticks, extra_lots, stop_pct, activation_pct,
              callback_pct, initial, trailing, aged, patience) -> None:
        """A signal arrives (PENDING) or a phantom found on the exchange is adopted (FILLED)."""
        self.initial, self.trailing, self.aged, self.patience = initial, trailing, aged, patience
        self.positions, self.sent = self.positions + 1, 0
        self.request = self.closed_state = None
        self.mark = instrument.tick_size * price_ticks
        quantity = instrument.min_qty + instrument.qty_step * extra_lots
        common = {"venue": "bybit", "account": "main", "symbol": instrument.symbol, "side": side,
                  "quantity": quantity, "instrument": instrument, "at": self.now}
        if adopted:
            self.position = Position.adopt(entry_price=self.mark, price_source=PriceSource.POSITION,
                                           **common)
        else:
            self.position = Position.open(
                signal_id=f"sig-{self.positions}", stop_loss_percent=stop_pct,
                trailing_activation_percent=activation_pct, trailing_callback_percent=callback_pct,
                **common)
        self.expected = self.position.status

    # ----- the entry ------------------------------------------------------------------------
    @when(lambda self, p: p.status is Status.PENDING and p.entry_client_order_id is None)
    @rule(intent_first=st.booleans())
    def entry_order_is_placed(self, intent_first) -> None:
        if intent_first:
            self.send("request_entry_order", client_order_id="cid-entry")
        self.send("record_entry_order", client_order_id="cid-entry", order_id="oid-entry")

    @when(lambda self, p: p.status in FILLABLE and p.filled_qty < p.quantity)
    @rule(full=st.booleans(), lots=st.integers(1, 1000), slip_ticks=st.integers(-20, 20),
          fee=st.sampled_from(["0", "0.01", "1.5"]))
    def entry_fills(self, full, lots, slip_ticks, fee) -> None:
        p = self.position
        remaining = (p.quantity - p.filled_qty) / p.instrument.qty_step
        quantity = p.instrument.qty_step * (remaining if full else min(lots, remaining))
        self.send("fill", price=max(self.tick, self.mark + slip_ticks * self.tick), quantity=quantity,
                  source=PriceSource.EXECUTIONS, order_id="oid-entry", fee=Decimal(fee))

    @status_in(*FILLABLE)
    @rule(price=st.sampled_from(["0", "0.0", "-0", "-1", "NaN", "-Infinity", "Infinity"]),
          quantity=st.sampled_from(["0", "-1", "NaN"]), bad=st.sampled_from(["price", "qty", "both"]),
          keep_evidence=st.booleans())
    def impossible_fill_is_reported(self, price, quantity, bad, keep_evidence) -> None:
        """The seed bot's 0.0 execution price (or a zero quantity) must never become a fill."""
        report = {"price": self.mark if bad == "qty" else Decimal(price),
                  "quantity": self.position.instrument.qty_step if bad == "price" else Decimal(quantity),
                  "source": PriceSource.ORDER_RESPONSE}
        with pytest.raises(ImpossibleFill):
            self.send("fill", **report)
        if keep_evidence:
            p = self.position
            before = (p.filled_qty, p.entry_price, p.entry_fees, p.best_price)
            self.send("refuse_fill", reason="impossible fill report", **report)
            assert (p.filled_qty, p.entry_price, p.entry_fees, p.best_price) == before

    @may_end(Status.PENDING)
    @rule(code=st.sampled_from([None, "110007", "-2019"]))
    def entry_is_rejected(self, code) -> None:
        self.send("reject_entry", reason="insufficient margin", code=code)

    # ----- the market -----------------------------------------------------------------------
    @status_in(Status.PENDING, *OPEN)
    @rule(basis_points=st.integers(-300, 300))
    def mark_price_ticks(self, basis_points) -> None:
        moved = self.mark + self.mark * basis_points / 10_000
        self.mark = max(self.tick, self.position.instrument.round_price(moved, up=basis_points > 0))
        self.send("observe_mark", price=self.mark, source=PriceSource.MARK)

    @rule(seconds=st.integers(1, 3 * 3600))
    def time_passes(self, seconds) -> None:
        self.now += timedelta(seconds=seconds)

    # ----- the stop-loss --------------------------------------------------------------------
    @when(lambda self, p: p.status is Status.FILLED and self.request is None
          and self.initial_stop() is not None)
    @rule(confirmed=st.booleans())
    def initial_stop_is_requested(self, confirmed) -> None:
        """From the real (volume-weighted) fill; confirmed at once, or later by another rule."""
        self.send("request_stop", price=self.initial_stop(), reference_price=self.position.entry_price,
                  purpose=StopPurpose.INITIAL)
        if confirmed:
            self.exchange_confirms_the_stop()

    @when(lambda self, p: p.status is Status.PROTECTED and self.request is None
          and p.pending_intent is not Intent.SCALE_IN)
    @rule()
    def missing_stop_is_restored(self) -> None:
        self.send("request_stop", price=self.position.stop_price,
                  reference_price=self.position.stop_reference, purpose=StopPurpose.RESTORE)

    @when(lambda self, p: p.is_open and self.request is not None)
    @rule()
    def exchange_confirms_the_stop(self) -> None:
        price, reference, purpose = self.request
        if purpose is StopPurpose.TRAIL:
            self.send("confirm_stop_move", new_price=price, reference_price=reference, order_id="oid-stop-2")
        else:
            self.send("confirm_stop", price=price, reference_price=reference, order_id="oid-stop")

    @when(lambda self, p: p.is_open and self.request is not None)
    @rule(code=st.sampled_from([None, "10001", "-2021"]))
    def exchange_rejects_the_stop(self, code) -> None:
        self.send("reject_stop", price=self.request[0], code=code, reason="would trigger at once")

    @when(lambda self, p: p.is_open and p.stop_price is not None)
    @rule(command=st.sampled_from(["request_stop", "confirm_stop", "confirm_stop_move"]),
          offset_ticks=st.integers(-20, 20))
    def stale_stop_is_reported(self, command, offset_ticks) -> None:
        """A stop report or request some ticks either side of the current stop (a stale echo, a
        restart's guess): whatever the status allows, a looser stop is always refused."""
        p = self.position
        price = p.stop_price + offset_ticks * self.tick
        kwargs = ({"price": price, "reference_price": p.stop_reference, "purpose": StopPurpose.RESTORE}
                  if command == "request_stop" else
                  {"price" if command == "confirm_stop" else "new_price": price,
                   "reference_price": p.stop_reference, "order_id": None})
        error = self.attempt(command, **kwargs)
        if p.side.sign * offset_ticks < 0:
            assert isinstance(error, InvalidStop | InvalidTransition), f"{command} loosened to {price}"

    @when(lambda self, p: p.status is Status.PROTECTED and p.last_mark is not None
          and self.trailing.should_activate(p.side, p.entry_price, p.last_mark,
                                            p.trailing_activation_percent))
    @rule()
    def trailing_activates(self) -> None:
        p = self.position
        self.send("activate_trailing", price=p.last_mark,
                  activation_percent=p.trailing_activation_percent or self.trailing.activation_percent)

    @when(lambda self, p: p.status in (Status.TRAILING, Status.AGED) and self.request is None
          and p.pending_intent is not Intent.SCALE_IN and self.trail_target() is not None)
    @rule(confirmed=st.booleans())
    def trailing_stop_is_requested(self, confirmed) -> None:
        self.send("request_stop", price=self.trail_target(), reference_price=self.position.best_price,
                  purpose=StopPurpose.TRAIL)
        if confirmed:
            self.exchange_confirms_the_stop()

    # ----- scale-in -------------------------------------------------------------------------
    @when(lambda self, p: p.status in PROTECTED_STATUSES and p.pending_intent is None)
    @rule(lots=st.integers(1, 500), slip_ticks=st.integers(-20, 20), fills=st.booleans())
    def signal_scales_in(self, lots, slip_ticks, fills) -> None:
        """A same-side signal adds to the open position (the scale_in policy)."""
        added = self.position.instrument.qty_step * lots
        self.send("request_scale_in", signal_id=f"sig-add-{self.sent}", quantity=added,
                  client_order_id="cid-add")
        self.scale_in_settles(fills, slip_ticks)

    @when(lambda self, p: p.is_open and p.pending_intent is Intent.SCALE_IN)
    @rule(fills=st.booleans(), slip_ticks=st.integers(-20, 20))
    def scale_in_settles(self, fills, slip_ticks) -> None:
        p = self.position
        before = (p.filled_qty, p.entry_price, p.quantity)
        if not fills:
            self.send("reject_scale_in", reason="insufficient margin", code="110007")
            assert (p.filled_qty, p.entry_price, p.quantity) == before
            return
        price, added = max(self.tick, self.mark + slip_ticks * self.tick), p.scale_in_quantity
        self.send("fill_scale_in", price=price, quantity=added, source=PriceSource.EXECUTIONS)
        assert p.filled_qty == before[0] + added and p.quantity == before[2] + added
        assert p.entry_price == (before[1] * before[0] + price * added) / p.filled_qty  # the VWAP

    # ----- aging ----------------------------------------------------------------------------
    @when(lambda self, p: self.aged_step().ages or self.aged_step().enters is not None
          or (self.aged_step().rest_at is not None and p.exit_intent is None))
    @rule()
    def aged_exit_acts(self) -> None:
        """The engine's aged tick: age, enter the phase, rest the exit order at its price."""
        p = self.position
        if self.aged_step().ages:
            self.send("age", age_seconds=self.age_seconds(), max_age_seconds=self.aged.max_age_seconds)
        decision = self.aged_step().enters
        if decision is not None:
            self.send("enter_aged_phase", phase=decision.phase, limit_price=decision.limit_price)
        price = self.aged_step().rest_at
        if price is not None and p.exit_intent is None:
            action = ExitAction.AMEND if p.exit_resting else ExitAction.PLACE
            self.send("request_exit_order", action=action, price=price, quantity=p.filled_qty,
                      phase=p.aged_phase, client_order_id=f"cid-exit-{p.version}")

    @when(lambda self, p: p.status is Status.AGED and p.exit_intent is None and p.exit_resting)
    @rule(filled=st.booleans())
    def aged_exit_order_is_cancelled_or_fills(self, filled) -> None:
        p = self.position
        if filled:
            self.send("record_exit_fill", filled_qty=p.filled_qty, average_price=p.exit_limit)
        else:
            self.send("request_exit_order", action=ExitAction.CANCEL, quantity=p.filled_qty,
                      phase=p.aged_phase)

    @when(lambda self, p: p.status is Status.AGED and p.exit_intent is not None)
    @rule(answer=st.sampled_from(["accepted", "refused", "unconfirmed"]), filled=st.booleans())
    def venue_answers_the_exit_order(self, answer, filled) -> None:
        p = self.position
        if answer != "accepted":
            self.send("reject_exit_order", code="110001" if answer == "refused" else None, reason="any")
        elif p.exit_intent is ExitAction.PLACE:
            self.send("confirm_exit_order", order_id=f"exit-{p.version}", price=p.exit_requested)
        elif p.exit_intent is ExitAction.AMEND:
            self.send("confirm_exit_amend", price=p.exit_requested)
        else:
            self.send("confirm_exit_cancel", filled_qty=p.filled_qty if filled else Decimal(0),
                      reason="the hard limit")

    # ----- the end --------------------------------------------------------------------------
    @status_in(*OPEN)
    @rule(reason=st.sampled_from(EXIT_REASONS), market=st.booleans())
    def close_is_requested(self, reason, market) -> None:
        self.send("request_close", reason=reason, client_order_id="cid-exit",
                  limit_price=None if market else self.mark)

    @may_end(*OPEN)
    @rule(reason=st.sampled_from(EXIT_REASONS), known_exit=st.booleans())
    def position_closes(self, reason, known_exit) -> None:
        """A stop hit, a liquidation or a close outside warden, as the exchange reports it."""
        stop = self.position.stop_price
        at_stop = reason in (CloseReason.STOP_HIT, CloseReason.TRAILING_STOP_HIT) and stop is not None
        exit_price = (stop if at_stop else self.mark) if known_exit else None
        self.send("close", exit_price=exit_price, fees=Decimal("0.1"), reason=reason)

    @when(lambda self, p: p.status is Status.FILLED
          and (self.initial_stop() is None or p.stop_rejections > 0))
    @rule()
    def unprotectable_position_is_rolled_back(self) -> None:
        self.send("roll_back", reason="stop could not be placed", exit_price=self.mark,
                  fees=Decimal("0.1"))

    @rule()
    def engine_restarts(self) -> None:
        """Save what is pending, forget the live object and carry on with the stored one."""
        self.store.save(self.position)
        self.position = self.store.repository.get(self.position.id)

    # ----- anything, legal or not -----------------------------------------------------------
    @rule(command=st.sampled_from(OTHER_COMMANDS), from_stop=st.booleans(),
          offset_ticks=st.integers(-50, 50) | st.just(Decimal("-0.5")), phase=st.integers(0, 6))
    def random_command(self, command, from_stop, offset_ticks, phase) -> None:
        """A stop is some ticks from the current stop (tighter or looser) or from the mark, or half
        a tick off: whatever the exchange or a buggy caller might send."""
        self.attempt(command, **self.arguments(command, offset_ticks, phase, from_stop))

    @may_end(*Status)
    @rule(command=st.sampled_from(ENDING_COMMANDS))
    def random_ending_command(self, command) -> None:
        self.attempt(command, **self.arguments(command, 0, 0))

    @status_in(Status.CLOSED)
    @rule()
    def closed_position_refuses_every_command(self) -> None:
        for command in sorted(COMMAND_EVENTS):
            error = self.attempt(command, **self.arguments(command, -1, 1))
            assert isinstance(error, InvalidTransition), f"a closed position accepted {command}"

    def arguments(self, command: str, offset_ticks: Decimal | int, phase: int,
                  from_stop: bool = False) -> dict[str, Any]:
        p = self.position
        anchor = p.stop_price if from_stop and p.stop_price is not None else self.mark
        return plausible_arguments(
            command, mark=self.mark, stop=anchor + offset_ticks * self.tick,
            reference=p.best_price or self.mark, qty=p.instrument.qty_step, age=self.age_seconds(),
            max_age=self.aged.max_age_seconds, phase=phase)

    # ----- the promises ---------------------------------------------------------------------
    def history(self) -> list[Any]:
        """The position's stored events, after saving whatever is pending (read once per version:
        every invariant wants them after every step)."""
        p = self.position
        self.store.save(p)
        if self.read != (p.id, p.version):
            self.read, self.recorded = (p.id, p.version), self.store.history(p.id)
        return self.recorded

    def stops(self) -> list[Decimal]:
        """Every stop the exchange confirmed, in order."""
        return [e.price if isinstance(e, ev.StopLossPlaced) else e.new_price for e in self.history()
                if isinstance(e, ev.StopLossPlaced | ev.StopLossMoved)]

    @invariant()
    def status_follows_the_table(self) -> None:
        p, history = self.position, self.history()
        status = INITIAL[type(history[0])]
        assert p.status in reachable(status)
        assert p.status is self.expected, f"{p.status.name}, the table says {self.expected.name}"
        for recorded in history[1:]:
            following = TRANSITIONS[type(recorded)].get(status)
            assert following is not None, f"recorded {type(recorded).__name__} in {status.name}"
            status = following
        assert status is p.status

    @invariant()
    def closed_is_terminal(self) -> None:
        if self.position.status is not Status.CLOSED:
            assert self.closed_state is None, "a closed position reopened"
        elif self.closed_state is None:
            self.closed_state = self.position.state()
        else:
            assert self.position.state() == self.closed_state, "a closed position changed"

    @invariant()
    def no_fill_at_a_non_positive_price_is_recorded(self) -> None:
        for recorded in self.history():
            if isinstance(recorded, ev.EntryFilled):
                assert recorded.price.is_finite() and recorded.price > 0, recorded
                assert recorded.quantity.is_finite() and recorded.quantity > 0, recorded
            if isinstance(recorded, ev.PositionAdopted):
                assert recorded.entry_price.is_finite() and recorded.entry_price > 0, recorded
        p = self.position
        assert p.filled_qty <= p.quantity
        assert p.entry_price is None or p.entry_price > 0

    @invariant()
    def a_protected_position_has_a_protective_stop(self) -> None:
        p = self.position
        if p.status in PROTECTED_STATUSES:
            assert p.stop_price is not None and p.stop_reference is not None
            if p.side is Side.LONG:
                assert p.stop_price < p.stop_reference, f"long stop {p.stop_price} >= {p.stop_reference}"
            else:
                assert p.stop_price > p.stop_reference, f"short stop {p.stop_price} <= {p.stop_reference}"

    @invariant()
    def the_stop_never_moves_against_the_position(self) -> None:
        stops, sign = self.stops(), self.position.side.sign
        for before, after in itertools.pairwise(stops):
            assert sign * (after - before) >= 0, f"{self.position.side.name} stop {before} -> {after}"
        for moved in self.history():
            if isinstance(moved, ev.StopLossMoved):
                assert sign * (moved.new_price - moved.old_price) >= 0, moved
        assert self.position.stop_price == (stops[-1] if stops else None)

    @invariant()
    def every_stop_is_on_tick_and_above_the_minimum_price(self) -> None:
        instrument = self.position.instrument
        requested = [e.price for e in self.history() if isinstance(e, ev.StopLossRequested)]
        for stop in self.stops() + requested:
            assert stop > 0 and stop >= instrument.min_price, stop
            assert stop % instrument.tick_size == 0, f"{stop} is off the tick {instrument.tick_size}"

    @invariant()
    def an_exit_order_rests_only_while_aged_at_a_price_the_policy_gave(self) -> None:
        p = self.position
        if p.exit_limit is not None:
            assert p.exit_resting and p.exit_limit > 0
            assert p.status in (Status.AGED, Status.CLOSED), f"exit order resting in {p.status.name}"
        asked = [e for e in self.history() if isinstance(e, ev.ExitOrderRequested)]
        for request in asked:
            assert (request.price is None) is (request.action is ExitAction.CANCEL), request

    @invariant()
    def rebuilt_from_events_equals_live(self) -> None:
        self.store.save(self.position)
        assert self.store.repository.get(self.position.id).state() == self.position.state()

    @invariant()
    def export_then_import_changes_nothing(self) -> None:
        self.checks += 1
        if self.checks % EXPORT_EVERY == 0:
            self.check_export_round_trip()

    def check_export_round_trip(self) -> None:
        self.store.save(self.position)
        first = io.StringIO()
        export_log(self.store, first)
        fresh = open_store("memory://")
        import_log(fresh, first.getvalue().splitlines())
        second = io.StringIO()
        export_log(fresh, second)
        assert second.getvalue() == first.getvalue()
        assert fresh.repository.get(self.position.id).state() == self.position.state()

    def teardown(self) -> None:
        if self.position is not None:
            event(f"positions: {self.positions}, last one {self.position.status.name}")
            self.check_export_round_trip()


TestPositionLifecycle = PositionLifecycle.TestCase
