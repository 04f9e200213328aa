"""Phantom detection over the exchange account read model.

A phantom is a position the exchange holds that warden does not track (the seed's BTCUSDT); a
ghost is the reverse: tracked and open here, flat on the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.account import ExchangeAccount
from domain.position import Position
from domain.reports import PositionReport


def find_phantoms(account: ExchangeAccount, tracked: Iterable[Position]) -> list[PositionReport]:
    symbols = {p.symbol for p in tracked if p.is_open and (p.venue, p.account) ==
               (account.venue, account.account)}
    return [r for symbol, r in sorted(account.open_positions().items()) if symbol not in symbols]


def find_ghosts(account: ExchangeAccount, tracked: Iterable[Position]) -> list[Position]:
    """Open positions that the account's latest reports show as flat (to confirm by REST first)."""
    open_on_exchange = account.open_positions()
    return [p for p in tracked
            if p.is_open and p.filled_qty > 0 and (p.venue, p.account) == (account.venue, account.account)
            and p.symbol not in open_on_exchange]
