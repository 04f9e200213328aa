"""Pure policies: the initial stop, the trailing stop and the aged exit.

Each is a frozen dataclass of documented parameters with methods that take prices and return a
decision. None reads a clock: ages arrive in seconds, prices as `Decimal`. `AgedExitPolicy.step`
is the aged exit's whole decision for one moment, which the engine (engine/aged.py) and the
what-if (projections/whatif_sim.py) both carry out. `Policies` bundles what
one account is guarded by, the `PhantomPolicy` included; the defaults written here are warden's
defaults, and the configuration and the engine take theirs from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from warden.domain.errors import InvalidStop
from warden.domain.instrument import Instrument
from warden.domain.lifecycle import Status
from warden.domain.reports import ClosingOrder
from warden.domain.values import (
    HUNDRED,
    ZERO,
    CloseBasis,
    CloseReason,
    OrderOrigin,
    PhantomPolicy,
    Side,
)

AGEABLE = (Status.PROTECTED, Status.TRAILING)  # what ages; TRAILING keeps trailing once AGED


@dataclass(frozen=True)
class InitialStopPolicy:
    """``percent``: distance of the stop from the real fill price, in percent (2 = 2%)."""

    percent: Decimal = Decimal(2)

    def stop_for(self, side: Side, fill_price: Decimal, instrument: Instrument,
                 percent: Decimal | None = None) -> Decimal:
        """The protectively rounded stop for a fill; raises `InvalidStop` if none is valid."""
        if not fill_price.is_finite() or fill_price <= 0:
            raise InvalidStop(f"{instrument.symbol}: no stop from a fill price of {fill_price}")
        distance = fill_price * (percent if percent is not None else self.percent) / HUNDRED
        return instrument.protective_stop(side, fill_price - side.sign * distance, fill_price)


@dataclass(frozen=True)
class TrailingStopPolicy:
    """Trail the best price once in profit.

    - ``activation_percent``: profit from entry, in percent, at which trailing starts.
    - ``callback_percent``: distance of the stop behind the best price, in percent.
    - ``min_step_ticks``: a move smaller than this many ticks is not worth an exchange call.
    - ``min_interval_seconds``: the engine's throttle between two moves of one position.
    """

    activation_percent: Decimal = Decimal("1.5")
    callback_percent: Decimal = Decimal("0.5")
    min_step_ticks: int = 1
    min_interval_seconds: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.min_step_ticks < 1 or self.min_interval_seconds < 0:
            raise InvalidStop("a trailing policy needs min_step_ticks >= 1 and min_interval_seconds >= 0: "
                              "a smaller step could loosen the stop")
        if not (ZERO < self.callback_percent < HUNDRED) or self.activation_percent < 0:
            raise InvalidStop("trailing callback_percent must be in (0, 100), activation_percent >= 0")

    def should_activate(self, side: Side, entry: Decimal, price: Decimal,
                        activation_percent: Decimal | None = None) -> bool:
        threshold = activation_percent if activation_percent is not None else self.activation_percent
        return side.sign * (price - entry) / entry * HUNDRED >= threshold

    def target(self, side: Side, best: Decimal, instrument: Instrument,
               callback_percent: Decimal | None = None) -> Decimal:
        callback = callback_percent if callback_percent is not None else self.callback_percent
        return instrument.round_stop(side, best - side.sign * best * callback / HUNDRED)

    def next_stop(self, side: Side, best: Decimal, current: Decimal | None,
                  instrument: Instrument, callback_percent: Decimal | None = None) -> Decimal | None:
        """The stop to move to, or None when the move is against the position, too small or invalid.

        The stop only ratchets in the position's favour: a long's never goes down, a short's never up.
        """
        target = self.target(side, best, instrument, callback_percent)
        try:
            instrument.validate_stop(side, target, best)
        except InvalidStop:
            return None
        if current is None:
            return target
        improvement = side.sign * (target - current)
        if improvement < instrument.tick_size * self.min_step_ticks:
            return None
        return target


@dataclass(frozen=True)
class AgedPhase:
    """From ``after_seconds`` past the max age, accept an exit up to ``accept_loss_percent`` worse
    than the entry (negative: demand a profit)."""

    after_seconds: int
    accept_loss_percent: Decimal


@dataclass(frozen=True)
class AgedDecision:
    phase: int  # 1-based index into the phases; len(phases) + 1 is the hard market exit
    limit_price: Decimal | None  # None: exit at market


@dataclass(frozen=True)
class AgedStep:
    """What the aged exit does for a position at one moment, in this order: age it, enter a
    phase, then either rest its exit order at ``rest_at`` (place it, or amend the resting one to
    that price) or, at the hard limit (``market``), take any resting order off and close at market.
    All empty: nothing to do."""

    ages: bool = False
    enters: AgedDecision | None = None
    rest_at: Decimal | None = None
    market: bool = False


@dataclass(frozen=True)
class AgedExitPolicy:
    """Close positions held too long.

    - ``max_age_seconds``: past this a position is AGED.
    - ``phases``: progressively worse acceptable exits, each starting ``after_seconds`` past the max age.
    - ``hard_limit_seconds``: past the max age by this much, exit at market whatever the price.
    """

    max_age_seconds: int = 6 * 3600
    phases: tuple[AgedPhase, ...] = field(default=(
        AgedPhase(0, Decimal("-0.1")),  # first ask for breakeven plus fees
        AgedPhase(1800, Decimal("0.5")),
        AgedPhase(3600, Decimal("1.5")),
    ))
    hard_limit_seconds: int = 2 * 3600

    def is_aged(self, age_seconds: int) -> bool:
        return age_seconds >= self.max_age_seconds

    def decision(self, side: Side, entry: Decimal, age_seconds: int,
                 instrument: Instrument) -> AgedDecision | None:
        """The phase and exit limit for a position of this age, or None when not yet aged."""
        over = age_seconds - self.max_age_seconds
        if over < 0:
            return None
        if over >= self.hard_limit_seconds:
            return AgedDecision(len(self.phases) + 1, None)
        current = 0
        for index, phase in enumerate(self.phases, start=1):
            if over >= phase.after_seconds:
                current = index
        if current == 0:
            return None
        loss = self.phases[current - 1].accept_loss_percent
        worst = entry - side.sign * entry * loss / HUNDRED
        # A limit exit sells (long) or buys (short): round it toward the better price for us.
        limit = instrument.round_price(worst, up=side is Side.LONG)
        return AgedDecision(current, max(limit, instrument.min_price) if limit > ZERO else None)

    def step(self, *, side: Side, entry: Decimal, age_seconds: int, instrument: Instrument,
             status: Status, phase: int, resting: Decimal | None = None,
             refused: Decimal | None = None) -> AgedStep:
        """The aged exit's move for a position in ``status`` and aged ``phase``, ``age_seconds``
        old, whose exit order rests at ``resting`` (None: none rests). A price the venue
        ``refused`` for the exit order is not asked again: the next phase or the hard limit is."""
        ages = status in AGEABLE and self.is_aged(age_seconds)
        if not ages and status is not Status.AGED:
            return AgedStep()
        decision = self.decision(side, entry, age_seconds, instrument)
        if decision is None:
            return AgedStep(ages=ages)
        enters = decision if decision.phase > phase else None
        limit = decision.limit_price
        if limit is None:
            return AgedStep(ages, enters, market=True)
        return AgedStep(ages, enters, rest_at=None if limit in (resting, refused) else limit)


@dataclass(frozen=True)
class Policies:
    """The policies one account is guarded by."""

    initial_stop: InitialStopPolicy = field(default_factory=InitialStopPolicy)
    trailing: TrailingStopPolicy = field(default_factory=TrailingStopPolicy)
    aged: AgedExitPolicy = field(default_factory=AgedExitPolicy)
    phantom: PhantomPolicy = PhantomPolicy.ADOPT
    # a signal for a symbol that already has an open position: refused (False: one venue
    # position, one warden position) or, on the same side, added to that position (True)
    scale_in: bool = False


DEFAULT_POLICIES = Policies()


class PositionPolicies(Protocol):
    """The policies that decide a position's stops and exit: what replay and what-if re-run.
    `Policies` has them, and so has the engine's configuration."""

    @property
    def initial_stop(self) -> InitialStopPolicy: ...

    @property
    def trailing(self) -> TrailingStopPolicy: ...

    @property
    def aged(self) -> AgedExitPolicy: ...


STOP_HIT_TOLERANCE = Decimal("0.005")  # an exit within 0.5% of a price was that price


def exit_reason(side: Side, exit_price: Decimal | None, stop: Decimal | None, trailing: bool,
                liquidation_price: Decimal | None) -> CloseReason:
    """A guess at why a position the exchange closed on its own was closed, from its exit price
    alone: only when the venue described no order that closed it (`attribute_close`)."""
    def near(level: Decimal | None) -> bool:
        return exit_price is not None and level is not None and level > 0 and \
            abs(exit_price - level) <= level * STOP_HIT_TOLERANCE

    if exit_price is not None and liquidation_price is not None and liquidation_price > 0 and (
            near(liquidation_price) or side.sign * (exit_price - liquidation_price) < 0):
        return CloseReason.LIQUIDATED
    if near(stop):
        return CloseReason.TRAILING_STOP_HIT if trailing else CloseReason.STOP_HIT
    return CloseReason.CLOSED_EXTERNALLY


@dataclass(frozen=True)
class CloseAttribution:
    """Why a position closed, how that is known, and the venue's order that closed it."""

    reason: CloseReason
    basis: CloseBasis
    order: ClosingOrder | None = None


@dataclass(frozen=True)
class OwnOrders:
    """What warden sent for one position: its client-id prefix, the stop orders the venue confirmed
    and the stop price it holds; ``requested`` is the reason of warden's own close in flight."""

    client_id_prefix: str
    stop_order_ids: frozenset[str]
    stop_price: Decimal | None
    trailing: bool
    requested: CloseReason | None = None

    def sent(self, order: ClosingOrder) -> bool:
        return (order.client_order_id or "").startswith(self.client_id_prefix)

    def is_our_stop(self, order: ClosingOrder) -> bool:
        """The position's own stop-loss is ours; so is a stop order we placed (by id or client
        id) or one at the very price of our stop (a venue that re-ids a triggered algo order)."""
        return order.origin is OrderOrigin.POSITION_STOP or order.order_id in self.stop_order_ids \
            or self.sent(order) or (order.trigger_price is not None
                                    and order.trigger_price == self.stop_price)


def attribute_close(closing: Sequence[ClosingOrder], own: OwnOrders, *, side: Side,
                    exit_price: Decimal | None,
                    liquidation_price: Decimal | None) -> CloseAttribution:
    """Why a position closed, from the orders the venue says closed it (oldest first).

    A liquidation order anywhere means LIQUIDATED. Otherwise the last closing order decides: warden's
    own close order gives the reason warden asked for; the position's stop (its stop-loss, or a
    stop order warden placed) gives STOP_HIT (TRAILING_STOP_HIT while trailing), whatever the fill
    price (a gap through the stop is still a stop hit); a regular order warden did not send is
    MANUAL (by hand or another client); another trigger or the venue's own order (auto-deleveraging)
    is CLOSED_EXTERNALLY. Only when the venue described no order is the reason read from the exit
    price, and then it is recorded as a guess (`CloseBasis.PRICE_GUESS`).
    """
    described = [o for o in closing if o.origin is not OrderOrigin.UNKNOWN]
    liquidations = [o for o in described if o.origin is OrderOrigin.LIQUIDATION]
    if liquidations:
        return CloseAttribution(CloseReason.LIQUIDATED, CloseBasis.VENUE_ORDER, liquidations[-1])
    if not described:
        guess = exit_reason(side, exit_price, own.stop_price, own.trailing, liquidation_price)
        return CloseAttribution(guess, CloseBasis.PRICE_GUESS, closing[-1] if closing else None)
    last = described[-1]
    if own.sent(last) and last.origin is OrderOrigin.ORDER:
        return CloseAttribution(own.requested or CloseReason.CLOSED_EXTERNALLY,
                                CloseBasis.WARDEN_ORDER, last)
    if last.origin in (OrderOrigin.STOP, OrderOrigin.POSITION_STOP) and own.is_our_stop(last):
        hit = CloseReason.TRAILING_STOP_HIT if own.trailing else CloseReason.STOP_HIT
        return CloseAttribution(hit, CloseBasis.VENUE_ORDER, last)
    if last.origin is OrderOrigin.ORDER:
        return CloseAttribution(CloseReason.MANUAL, CloseBasis.VENUE_ORDER, last)
    return CloseAttribution(CloseReason.CLOSED_EXTERNALLY, CloseBasis.VENUE_ORDER, last)
