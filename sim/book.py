"""State records of the simulated exchange: accounts, orders, fills, positions, rejections.

Venue-neutral: the Bybit and Binance surfaces render these into their own wire shapes. All
amounts are `Decimal`; all times are milliseconds from the injected clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderKind(enum.Enum):
    PLAIN = "plain"                # a regular order: market, or limit resting on the book
    CONDITIONAL = "conditional"    # Bybit conditional / Binance algo order
    POSITION_SL = "position_sl"    # Bybit trading-stop stop loss attached to the position


class OrderType(enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"


class TimeInForce(enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PostOnly"      # Binance calls it GTX


class Origin(enum.Enum):
    USER = "user"
    LIQUIDATION = "liquidation"     # the venue's own order closing a liquidated position


class Closure(enum.Enum):
    """Why an order ended without filling completely; each venue words it its own way."""

    BY_USER = "by_user"
    POST_ONLY = "post_only"            # it would have taken liquidity
    UNFILLED = "unfilled"              # IOC/FOK remainder with nothing to take
    REDUCE_ONLY = "reduce_only"        # the position it reduced is gone
    BEFORE_LIQUIDATION = "before_liq"  # cancelled by the venue to liquidate the position
    AMENDED_AWAY = "amended_away"      # an amendment left nothing to fill


class OrderStatus(enum.Enum):
    NEW = "new"
    UNTRIGGERED = "untriggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    DEACTIVATED = "deactivated"    # a trigger order that fired with nothing left to close
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.UNTRIGGERED, OrderStatus.PARTIALLY_FILLED)


class Trigger(enum.Enum):
    RISE = 1    # fires when the mark price rises to the trigger price (Bybit triggerDirection 1)
    FALL = 2    # fires when it falls to it (triggerDirection 2)

    def crossed(self, price: Decimal, trigger: Decimal) -> bool:
        return price >= trigger if self is Trigger.RISE else price <= trigger


class Reason(enum.Enum):
    """Why the venue-neutral engine refused something; each venue maps it to its own code."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    PRICE_BELOW_MIN = "price_below_min"
    PRICE_ABOVE_MAX = "price_above_max"
    PRICE_OFF_TICK = "price_off_tick"
    PRICE_BAND_HIGH = "price_band_high"        # a limit price too far above the mark
    PRICE_BAND_LOW = "price_band_low"
    QTY_BELOW_MIN = "qty_below_min"
    QTY_ABOVE_MAX = "qty_above_max"
    QTY_OFF_STEP = "qty_off_step"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"
    WOULD_TRIGGER_IMMEDIATELY = "would_trigger_immediately"
    STOP_WRONG_SIDE = "stop_wrong_side"
    NO_POSITION = "no_position"
    ORDER_NOT_FOUND = "order_not_found"
    NOT_MODIFIED = "not_modified"
    ORDER_NOT_MODIFIED = "order_not_modified"  # an amendment that changes nothing
    AMEND_NOT_SUPPORTED = "amend_not_supported"
    LEVERAGE_NOT_MODIFIED = "leverage_not_modified"
    LEVERAGE_INVALID = "leverage_invalid"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_UNFILLABLE = "fok_unfillable"
    POSITION_IDX_MISMATCH = "position_idx_mismatch"
    CLOSE_POSITION_EXISTS = "close_position_exists"
    MODE_NOT_MODIFIED = "mode_not_modified"
    MODE_HAS_POSITION = "mode_has_position"
    MODE_HAS_ORDERS = "mode_has_orders"
    BAD_PARAM = "bad_param"


class Rejected(Exception):
    def __init__(self, reason: Reason, detail: str = "", **context: object) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.context = context


@dataclass
class Order:
    id: int
    account: str
    symbol: str
    side: Side
    qty: Decimal
    kind: OrderKind
    status: OrderStatus
    created_ms: int
    updated_ms: int
    client_id: str = ""
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None               # limit price
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    position_idx: int = 0                      # 0 one-way, 1 long side, 2 short side (hedge)
    origin: Origin = Origin.USER
    closure: Closure | None = None
    trigger_price: Decimal | None = None
    trigger: Trigger | None = None
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    cum_quote: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    triggered_ms: int | None = None
    reject_reason: str = ""

    @property
    def is_trigger(self) -> bool:
        return self.kind is not OrderKind.PLAIN

    @property
    def is_limit(self) -> bool:
        return self.order_type is OrderType.LIMIT

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.filled_qty if self.status.is_open else Decimal(0)


@dataclass(frozen=True)
class Fill:
    id: int
    order_id: int
    account: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_rate: Decimal
    realized_pnl: Decimal
    closed_qty: Decimal
    time_ms: int
    maker: bool = False

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass
class Position:
    account: str
    symbol: str
    qty: Decimal = Decimal(0)          # signed: > 0 long, < 0 short
    entry_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    leverage: int = 10
    idx: int = 0                       # 0 one-way; 1/2 the long/short side in hedge mode
    stop_loss: Decimal | None = None
    trailing_distance: Decimal | None = None
    trailing_active_price: Decimal | None = None
    created_ms: int = 0
    updated_ms: int = 0

    @property
    def side(self) -> Side | None:
        if self.qty > 0:
            return Side.BUY
        return Side.SELL if self.qty < 0 else None

    @property
    def size(self) -> Decimal:
        return abs(self.qty)

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.qty if self.qty else Decimal(0)


@dataclass
class Account:
    id: str
    venue: str
    api_key: str
    secret: str
    wallet: Decimal = Decimal(10000)
    asset: str = "USDT"
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    live: dict[int, Order] = field(default_factory=dict)    # the open subset of `orders`
    fills: list[Fill] = field(default_factory=list)
    leverage: dict[str, int] = field(default_factory=dict)
    hedge: set[str] = field(default_factory=set)            # symbols in hedge (two-sided) mode

    def position(self, symbol: str, idx: int = 0) -> Position:
        key = (symbol, idx)
        if key not in self.positions:
            self.positions[key] = Position(self.id, symbol, idx=idx,
                                           leverage=self.leverage.get(symbol, 10))
        return self.positions[key]

    def positions_of(self, symbol: str) -> list[Position]:
        """The symbol's position(s) in its current mode: one in one-way, two in hedge mode."""
        return ([self.position(symbol, 1), self.position(symbol, 2)] if symbol in self.hedge
                else [self.position(symbol, 0)])
