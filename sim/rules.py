"""Order admission rules shared by both venues: price and quantity filters, the price band, min
notional, client-id uniqueness, the position index of the account's mode and the initial-margin
check. Each failure is a `Rejected` with an engine `Reason` that the venue surfaces translate
into their own codes."""

from __future__ import annotations

from decimal import Decimal

from .book import Account, Reason, Rejected, Side
from .market import Instrument


def check_price(inst: Instrument, price: Decimal) -> None:
    if price < inst.min_price:
        raise Rejected(Reason.PRICE_BELOW_MIN, str(price), limit=inst.min_price)
    if price > inst.max_price:
        raise Rejected(Reason.PRICE_ABOVE_MAX, str(price), limit=inst.max_price)
    if not inst.on_tick(price):
        raise Rejected(Reason.PRICE_OFF_TICK, str(price), limit=inst.tick_size)


def check_qty(inst: Instrument, qty: Decimal) -> None:
    if qty <= 0 or qty < inst.min_qty:
        raise Rejected(Reason.QTY_BELOW_MIN, str(qty), limit=inst.min_qty)
    if qty > inst.max_qty:
        raise Rejected(Reason.QTY_ABOVE_MAX, str(qty), limit=inst.max_qty)
    if not inst.on_step(qty):
        raise Rejected(Reason.QTY_OFF_STEP, str(qty), limit=inst.qty_step)


def check_notional(inst: Instrument, qty: Decimal, price: Decimal) -> None:
    if qty * price < inst.min_notional:
        raise Rejected(Reason.NOTIONAL_BELOW_MIN, str(qty * price), limit=inst.min_notional)


def check_price_band(inst: Instrument, side: Side, price: Decimal, mark: Decimal,
                     band: tuple[Decimal, Decimal]) -> None:
    """Binance PERCENT_PRICE: a buy at most mark * up, a sell at least mark * down."""
    down, up = band
    if side is Side.BUY and price > mark * up:
        raise Rejected(Reason.PRICE_BAND_HIGH, str(price),
                       limit=inst.round_price(mark * up, up=False))
    if side is Side.SELL and price < mark * down:
        raise Rejected(Reason.PRICE_BAND_LOW, str(price),
                       limit=inst.round_price(mark * down, up=True))


def check_client_id(account: Account, client_id: str) -> None:
    if client_id and any(o.client_id == client_id for o in account.orders.values()):
        raise Rejected(Reason.DUPLICATE_CLIENT_ID, client_id)


def check_position_idx(account: Account, symbol: str, idx: int) -> None:
    """One-way mode takes index 0 only; hedge mode 1 (long side) or 2 (short side)."""
    if (idx in (1, 2)) != (symbol in account.hedge):
        raise Rejected(Reason.POSITION_IDX_MISMATCH, str(idx))


def check_margin(account: Account, inst: Instrument, qty: Decimal, price: Decimal,
                 idx: int = 0) -> None:
    """Initial margin of the new exposure must fit in the wallet minus margin already used."""
    used = sum((p.size * p.entry_price / p.leverage for p in account.positions.values()),
               Decimal(0))
    leverage = account.position(inst.symbol, idx).leverage
    if qty * price / leverage > account.wallet - used:
        raise Rejected(Reason.INSUFFICIENT_MARGIN, str(qty * price))
