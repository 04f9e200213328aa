"""Small value types shared by the aggregates, events and policies."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum


class Side(Enum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for a long, -1 for a short: profit is ``sign * (exit - entry) * qty``."""
        return 1 if self is Side.LONG else -1


class Venue(Enum):
    BYBIT = "bybit"
    BINANCE = "binanceusdm"


class PriceSource(Enum):
    """Where a price came from. Recorded with every price so a replay can tell a guess from a fact."""

    ORDER_RESPONSE = "order_response"
    ORDER_QUERY = "order_query"
    EXECUTIONS = "executions"  # VWAP of the order's fills
    POSITION = "position"  # the exchange's position average entry price
    WEBSOCKET = "websocket"
    TICKER = "ticker"
    MARK = "mark"
    SIGNAL = "signal"


class Origin(Enum):
    """How warden came to track a position."""

    SIGNAL = "signal"
    ADOPTED = "adopted"  # found open on the exchange without a signal (a phantom) and adopted


class CloseReason(Enum):
    ENTRY_REJECTED = "entry_rejected"
    ENTRY_CANCELLED = "entry_cancelled"
    ROLLED_BACK = "rolled_back"  # could not be protected, closed at market
    STOP_HIT = "stop_hit"
    TRAILING_STOP_HIT = "trailing_stop_hit"
    AGED_EXIT = "aged_exit"
    CLOSED_EXTERNALLY = "closed_externally"
    LIQUIDATED = "liquidated"
    MANUAL = "manual"  # a regular order warden did not send: by hand or by another client
    PHANTOM_CLOSED = "phantom_closed"  # an adopted phantom closed by the `close` policy
    UNPROTECTABLE = "unprotectable"  # no stop could be put on the venue any more: closed at market


class CloseBasis(Enum):
    """How warden knows why a position closed: the order that closed it, or a guess."""

    WARDEN_ORDER = "warden_order"  # warden's own close order filled
    VENUE_ORDER = "venue_order"  # the venue's record of the order that closed it (stop, liquidation...)
    PRICE_GUESS = "price_guess"  # the venue described no closing order: read from the exit price


class OrderOrigin(Enum):
    """What kind of order closed (part of) a position, as the venue describes it."""

    STOP = "stop"  # a conditional (trigger) order: a stop or a take-profit
    POSITION_STOP = "position_stop"  # the position's own stop-loss (Bybit trading-stop)
    LIQUIDATION = "liquidation"  # the venue's liquidation (takeover) order
    VENUE = "venue"  # another order of the venue's own: auto-deleveraging, delivery
    ORDER = "order"  # a regular market or limit order (by hand, warden or another client)
    UNKNOWN = "unknown"  # the venue could not be asked about it


class StopPurpose(Enum):
    """Why a stop is requested."""

    INITIAL = "initial"  # the first stop, from the real fill
    CORRECTION = "correction"  # re-rounded after the venue rejected the previous try
    TRAIL = "trail"  # a trailing move toward the best price
    RESTORE = "restore"  # the recorded stop put back where the venue holds none
    RESIZE = "resize"  # the same stop for the position's new quantity (after a scale-in)


class ExitAction(Enum):
    """What is done to the aged exit's resting reduce-only limit order."""

    PLACE = "place"  # rest it at a phase's price
    AMEND = "amend"  # move it to a later phase's price, keeping its id
    CANCEL = "cancel"  # take it off the venue (the hard limit goes to market, or the position closed)


class PhantomPolicy(Enum):
    """What warden does with a position the exchange holds and no warden position tracks."""

    ALERT = "alert"  # record it and leave it alone
    ADOPT = "adopt"  # track it from the report and protect it at once
    CLOSE = "close"  # adopt it and close it at market


class PositionMode(Enum):
    """How an account holds positions: one per symbol, or a long and a short side by side."""

    ONE_WAY = "one_way"  # Bybit positionIdx 0, Binance dualSidePosition false
    HEDGE = "hedge"  # Bybit positionIdx 1 (buy side) and 2 (sell side), Binance dualSidePosition true


class ReportSource(Enum):
    """Which channel delivered an exchange position report."""

    WEBSOCKET = "websocket"
    REST = "rest"


ZERO = Decimal(0)
HUNDRED = Decimal(100)


class OrderSide(Enum):
    BUY = "buy"
    SELL = "sell"

    @staticmethod
    def entering(side: Side) -> OrderSide:
        return OrderSide.BUY if side is Side.LONG else OrderSide.SELL

    @staticmethod
    def exiting(side: Side) -> OrderSide:
        return OrderSide.SELL if side is Side.LONG else OrderSide.BUY


class OrderStatus(Enum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
