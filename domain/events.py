"""The event catalogue: immutable, past-tense facts, one fact per class.

Each event's ``timestamp`` is the time of the input that caused it (a signal's time, an exchange
report's time, the engine's clock reading passed in as an argument), never a clock read here, so a
replay is exact. Prices are `Decimal`; every price says where it came from; the venue's payload is
kept in ``raw`` where there is one.

Event topics (``module:ClassName``) are part of the stored format. To rename or move a class,
register the old topic with ``eventsourcing.utils.register_topic`` (see `warden.domain.topics`); to
reshape one, bump ``class_version`` and add a static ``upcast_vN_vN+1(state)`` (docs/event-log.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from warden.domain.instrument import Instrument
from warden.domain.reports import ClosingOrder, FillReport, PositionReport, PriceAnswer
from warden.domain.values import (
    CloseBasis,
    CloseReason,
    ExitAction,
    PhantomPolicy,
    PriceSource,
    Side,
    StopPurpose,
)

Raw = dict[str, Any]


class PositionEvent(Aggregate.Event):
    """Base of every position event after creation; the aggregate's ``when`` assigns its state."""

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class PositionCreated(Aggregate.Created):
    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class SignalAccepted(PositionCreated):
    """A valid signal opened a position in PENDING. Overrides are None where the policy default applies."""

    venue: str
    account: str
    signal_id: str
    symbol: str
    side: Side
    quantity: Decimal
    instrument: Instrument
    stop_loss_percent: Decimal | None
    trailing_activation_percent: Decimal | None
    trailing_callback_percent: Decimal | None
    raw: Raw


class PositionAdopted(PositionCreated):
    """A position found open on the exchange without a signal (a phantom) is now tracked, in FILLED."""

    venue: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    price_source: PriceSource
    instrument: Instrument
    raw: Raw


class EntryOrderRequested(PositionEvent):
    """Intent: an entry order with ``client_order_id`` is about to be sent. After a crash it is
    resolved by asking the exchange for that client order id, never by sending blindly."""

    client_order_id: str
    quantity: Decimal


class EntryOrderPlaced(PositionEvent):
    client_order_id: str
    order_id: str | None
    quantity: Decimal
    raw: Raw


class EntryFilled(PositionEvent):
    """Part or all of the entry executed at a real price (> 0) from ``price_source``; ``asked``
    is what the sources asked before it said (a refused answer's payload is in its `FillRefused`)."""

    class_version = 2

    price: Decimal
    quantity: Decimal
    price_source: PriceSource
    order_id: str | None
    fee: Decimal
    raw: Raw
    asked: list[PriceAnswer]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["asked"] = []  # v1 kept no record of the sources asked before the price


class FillRefused(PositionEvent):
    """A venue reported a fill that cannot be real (price or quantity <= 0); kept as evidence,
    never applied. The seed bot accepted such a fill at 0.0."""

    price: Decimal
    quantity: Decimal
    price_source: PriceSource
    reason: str
    raw: Raw


class FillUnresolved(PositionEvent):
    """No venue answer gave a real fill price in time; the engine keeps asking, it never guesses.
    ``asked``: what each source said (``raw`` keeps each one's last word by name, as in v1)."""

    class_version = 2

    reason: str
    raw: Raw
    asked: list[PriceAnswer]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["asked"] = []  # v1 kept each source's last word in ``raw`` only


class EntryRejected(PositionEvent):
    """The entry was rejected or cancelled before any fill; the position is closed."""

    reason: str
    code: str | None
    raw: Raw


class StopLossRequested(PositionEvent):
    """A stop at ``price`` (already rounded and validated against ``reference_price``) is being
    sent, as an order with ``client_order_id`` (None for a Bybit position stop, which has none)."""

    class_version = 3

    price: Decimal
    reference_price: Decimal
    purpose: StopPurpose
    client_order_id: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["purpose"] = StopPurpose(state["purpose"])  # v1 stored the purpose's plain value

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["client_order_id"] = None  # before v3 stop orders were sent without a client id


class StopLossPlaced(PositionEvent):
    """The exchange confirmed a stop at ``price``."""

    price: Decimal
    reference_price: Decimal
    order_id: str | None
    raw: Raw


class StopLossRejected(PositionEvent):
    price: Decimal
    code: str | None
    reason: str
    raw: Raw


class MarkPriceObserved(PositionEvent):
    price: Decimal
    source: PriceSource
    raw: Raw


class TrailingActivated(PositionEvent):
    price: Decimal  # the price whose profit reached the activation threshold
    activation_percent: Decimal


class StopLossMoved(PositionEvent):
    """The exchange confirmed the stop moved from ``old_price`` to ``new_price``."""

    old_price: Decimal
    new_price: Decimal
    reference_price: Decimal  # the best price the new stop trails
    order_id: str | None
    raw: Raw


class PositionAged(PositionEvent):
    age_seconds: int
    max_age_seconds: int


class AgedPhaseEntered(PositionEvent):
    """The aged exit accepts a worse price: ``limit_price`` None means exit at market."""

    phase: int
    limit_price: Decimal | None


class ExitOrderRequested(PositionEvent):
    """Intent, saved before the call: ``action`` on the aged exit's reduce-only limit order, to rest
    ``quantity`` at ``price`` for aged phase ``phase`` (place it with ``client_order_id``, or amend
    ``order_id``), or to cancel it (``price`` None). After a crash the order is looked up by its
    client id; it is never sent twice."""

    class_version = 1

    action: ExitAction
    client_order_id: str
    order_id: str | None
    price: Decimal | None
    quantity: Decimal
    phase: int


class ExitOrderPlaced(PositionEvent):
    """The venue holds the exit order: resting at ``price`` (or already filling there or better)."""

    class_version = 1

    client_order_id: str
    order_id: str
    price: Decimal
    raw: Raw


class ExitOrderAmended(PositionEvent):
    """The venue moved the exit order to ``price``; it keeps its id and its place in the log."""

    class_version = 1

    order_id: str
    price: Decimal
    raw: Raw


class ExitOrderFilled(PositionEvent):
    """The venue filled the exit order: all of ``filled_qty`` at ``average_price`` (its own
    price or better). An observation, found when the venue is asked; no intent precedes it."""

    class_version = 1

    order_id: str | None
    filled_qty: Decimal
    average_price: Decimal | None
    raw: Raw


class ExitOrderCancelled(PositionEvent):
    """The venue holds the exit order no more (``reason`` says why it was taken off);
    ``filled_qty`` of it had executed."""

    class_version = 1

    order_id: str | None
    filled_qty: Decimal
    reason: str
    raw: Raw


class ExitOrderRejected(PositionEvent):
    """The venue refused the pending ``action`` (or never confirmed it): a refused placement
    leaves no order, a refused amendment leaves the order at its price."""

    class_version = 1

    action: ExitAction
    price: Decimal | None
    code: str | None
    reason: str
    raw: Raw


class CloseRequested(PositionEvent):
    reason: CloseReason
    client_order_id: str | None
    limit_price: Decimal | None  # None: market


class PositionClosed(PositionEvent):
    """The venue shows the position flat. ``basis`` says how the reason is known; ``closed_by`` is
    the venue's order that closed it (stop, liquidation, a hand order...) when the venue said."""

    class_version = 2

    exit_price: Decimal | None  # None only when the venue reported no fill for the exit
    realized_pnl: Decimal | None
    fees: Decimal
    reason: CloseReason
    basis: CloseBasis
    closed_by: ClosingOrder | None
    detail: str | None
    raw: Raw

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # v1 read stop hits, liquidations and outside closes from the exit price alone; every
        # other reason was warden's own close order
        guessed = {"stop_hit", "trailing_stop_hit", "liquidated", "closed_externally"}
        reason = state["reason"]
        value = reason.value if isinstance(reason, CloseReason) else reason
        state["basis"] = CloseBasis.PRICE_GUESS if value in guessed else CloseBasis.WARDEN_ORDER
        state["closed_by"] = state["detail"] = None


class ScaleInRequested(PositionEvent):
    """Intent: signal ``signal_id`` adds ``quantity`` to this open position (``scale_in`` policy);
    a market order with ``client_order_id`` is about to be sent."""

    class_version = 1

    signal_id: str
    quantity: Decimal
    client_order_id: str
    raw: Raw


class ScaleInFilled(PositionEvent):
    """The added quantity executed at a real price: the position's quantity grows and its entry
    becomes the volume-weighted average."""

    class_version = 1

    signal_id: str
    price: Decimal
    quantity: Decimal
    price_source: PriceSource
    order_id: str | None
    fee: Decimal
    raw: Raw


class AdoptedPositionGrew(PositionEvent):
    """An adopted position was larger on the venue than when it was adopted (a hand order still
    filling in pieces when warden found it): warden follows the venue's size, so its stop covers
    the whole position."""

    class_version = 1

    size: Decimal  # the venue's size now
    entry_price: Decimal | None  # the venue's average entry for that size, when it said
    raw: Raw


class ScaleInRejected(PositionEvent):
    """The venue refused the added order (or it never filled): the position is unchanged."""

    class_version = 1

    signal_id: str
    reason: str
    code: str | None
    raw: Raw


class PositionRolledBack(PositionEvent):
    """The position could not be protected and was closed at market."""

    reason: str
    exit_price: Decimal | None
    realized_pnl: Decimal | None
    fees: Decimal
    raw: Raw


class PriceTapeOpened(Aggregate.Created):
    """The price tape of one (venue, symbol) starts (`warden.domain.price_tape`)."""

    class_version = 1

    venue: str
    symbol: str

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class PriceRecorded(Aggregate.Event):
    """One price of the tape's symbol, compact: no venue payload (docs/events.md, the tape rule)."""

    class_version = 1

    price: Decimal
    source: PriceSource

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class AccountEvent(Aggregate.Event):
    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class AccountRegistered(Aggregate.Created):
    venue: str
    account: str

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class PositionReported(AccountEvent):
    """One position report from the exchange, for any symbol, tracked or not."""

    report: PositionReport


class PositionsSnapshotted(AccountEvent):
    """A full REST snapshot: symbols absent from ``reports`` are flat."""

    reports: list[PositionReport]


class FillReported(AccountEvent):
    """One execution pushed or fetched for the account, for any symbol."""

    fill: FillReport


class StreamFrameRejected(AccountEvent):
    """A websocket frame that could not be understood, recorded compactly: the reason, its first
    characters (``raw_text``), its ``size`` in bytes and ``sha256``. ``unrecorded`` counts, by kind,
    the feed's rejected frames since its previous record that were not recorded one by one (the
    feed records at most about one a second); a summary of those alone has ``size`` None."""

    class_version = 2

    feed: str
    reason: str
    raw_text: str
    size: int | None
    sha256: str
    unrecorded: dict[str, int]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # v1 kept up to 4 KiB of the frame itself, one record per frame
        state["size"] = len(state["raw_text"].encode("utf-8", "surrogatepass"))
        state["sha256"] = ""
        state["unrecorded"] = {}


class PhantomDetected(AccountEvent):
    """The exchange holds a position no open warden position tracks; ``action`` is the policy applied."""

    class_version = 2

    report: PositionReport
    action: PhantomPolicy

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["action"] = PhantomPolicy(state["action"])  # v1 stored the policy's plain value


class PositionMismatch(AccountEvent):
    """A tracked position and the exchange disagree on side or size."""

    position_id: UUID
    expected_side: Side
    expected_size: Decimal
    report: PositionReport
