"""Control of the simulator for tests and operators: the Python API (its HTTP twin under /_sim
lives in `control_http`).

Prices (set, script, step), positions opened or closed "from outside" (phantoms), faults,
websocket drops and raw frames, listenKey expiry, the venue model (book shape, partial fills,
liquidation, position mode, latency), and read access to state, the request log, the pushes and
the stop-coverage record. Every method is synchronous and runs on the simulator's loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .book import Account, Order, Position, Side
from .coverage import GapKind
from .faults import Fault, FaultKind
from .market import ManualClock, fmt

if TYPE_CHECKING:
    from .server import Simulator


def order_state(o: Order) -> dict[str, Any]:
    return {"id": o.id, "account": o.account, "symbol": o.symbol, "side": o.side.value,
            "kind": o.kind.value, "type": o.order_type.value, "status": o.status.value,
            "qty": fmt(o.qty), "filled_qty": fmt(o.filled_qty), "avg_price": fmt(o.avg_price),
            "price": fmt(o.price), "time_in_force": o.time_in_force.value,
            "trigger_price": fmt(o.trigger_price), "reduce_only": o.reduce_only,
            "close_position": o.close_position, "position_idx": o.position_idx,
            "origin": o.origin.value, "closure": o.closure.value if o.closure else None,
            "client_id": o.client_id, "created_ms": o.created_ms, "updated_ms": o.updated_ms}


def position_state(p: Position, mark: Decimal) -> dict[str, Any]:
    return {"account": p.account, "symbol": p.symbol, "qty": fmt(p.qty),
            "side": p.side.value if p.side else None, "entry_price": fmt(p.entry_price),
            "mark_price": fmt(mark), "realized_pnl": fmt(p.realized_pnl),
            "stop_loss": fmt(p.stop_loss), "trailing_distance": fmt(p.trailing_distance),
            "leverage": p.leverage, "position_idx": p.idx}


class Control:
    """The simulator's control surface."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def account(self, name: str | None = None) -> Account:
        """An account by id, or the first account of a venue when given a venue name."""
        accounts = self.sim.engine.accounts
        if name in accounts:
            return accounts[name]
        match = next((a for a in accounts.values() if name in (None, a.venue)), None)
        if match is None:
            raise KeyError(f"no account {name!r}")
        return match

    # -- prices --------------------------------------------------------------------------------
    def set_price(self, symbol: str, price: Decimal | str | float) -> str:
        return fmt(self.sim.feed.set_price(symbol, Decimal(str(price))))

    def script_prices(self, symbol: str, prices: list[Decimal | str | float]) -> None:
        self.sim.feed.script(symbol, [Decimal(str(p)) for p in prices])

    def step(self, count: int = 1, symbols: list[str] | None = None) -> dict[str, str]:
        moved: dict[str, Decimal] = {}
        for _ in range(count):
            moved = self.sim.feed.step(symbols)
        return {s: fmt(p) for s, p in moved.items()}

    def price(self, symbol: str) -> str:
        return fmt(self.sim.feed.price(symbol))

    def advance_clock(self, seconds: float) -> int:
        clock = self.sim.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance_clock needs the simulator built with a ManualClock")
        clock.advance(seconds)
        return clock.now_ms()

    # -- the venue model -----------------------------------------------------------------------
    def set_book(self, symbol: str | None = None, spread_bps: Decimal | str | None = None,
                 depth: Decimal | str | None = None, levels: int | None = None,
                 step_ticks: int | None = None) -> dict[str, Any]:
        """Shape the top of book of one symbol (or the default of all); depth 0 = unlimited."""
        shape = self.sim.engine.book.configure(symbol, spread_bps=spread_bps, depth=depth,
                                               levels=levels, step_ticks=step_ticks)
        return {"spread_bps": fmt(shape.spread_bps), "depth": fmt(shape.depth),
                "levels": shape.levels, "step_ticks": shape.step_ticks}

    def quotes(self, symbol: str) -> dict[str, str]:
        bid, ask = self.sim.engine.quotes(symbol)
        return {"bid": fmt(bid), "ask": fmt(ask), "mark": self.price(symbol)}

    def set_partial_fills(self, parts: int) -> int:
        """Fill every order in `parts` executions (1: one execution, the default)."""
        if int(parts) < 1:
            raise ValueError("partial fills: parts >= 1")
        self.sim.engine.partial_fills = int(parts)
        return self.sim.engine.partial_fills

    def set_liquidation(self, enabled: bool) -> bool:
        self.sim.engine.liquidation = bool(enabled)
        return self.sim.engine.liquidation

    def set_maintenance_margin(self, symbol: str, rate: Decimal | str) -> str:
        instruments = self.sim.feed.instruments
        instruments[symbol] = dataclasses.replace(instruments[symbol],
                                                  maint_margin=Decimal(str(rate)))
        return fmt(instruments[symbol].maint_margin)

    def set_position_mode(self, account: str, hedge: bool,
                          symbol: str | None = None) -> list[str]:
        """Hedge or one-way mode for one symbol or all; refused like the venues (open
        positions or orders). Returns the symbols switched."""
        symbols = [symbol] if symbol else list(self.sim.feed.instruments)
        return self.sim.engine.set_position_mode(self.account(account), hedge, symbols)

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> dict[str, float]:
        self.sim.latency.set(latency_ms, jitter_ms)
        return self.sim.latency.to_dict()

    # -- the outside world ---------------------------------------------------------------------
    def open_position(self, account: str, symbol: str, side: str, qty: Decimal | str) -> int:
        """Open (or add to) a position as if someone traded by hand: a phantom for the bot."""
        acct = self.account(account)
        return self.sim.engine.open_external(acct, symbol, Side(side.lower()),
                                             Decimal(str(qty))).id

    def close_position(self, account: str, symbol: str) -> int | None:
        order = self.sim.engine.close_external(self.account(account), symbol)
        return order.id if order else None

    def set_balance(self, account: str, amount: Decimal | str) -> None:
        self.account(account).wallet = Decimal(str(amount))

    # -- faults and one-shot disturbances ------------------------------------------------------
    def inject(self, kind: FaultKind | str, **options: Any) -> Fault:
        return self.sim.faults.inject(kind, **options)

    def clear_faults(self, kind: FaultKind | str | None = None, venue: str | None = None) -> int:
        removed = self.sim.faults.clear(kind, venue)
        self.sim.hub.flush_held()
        return removed

    def faults(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.sim.faults.list()]

    def drop_websockets(self, venue: str | None = None, abrupt: bool = False) -> asyncio.Task[int]:
        return asyncio.get_running_loop().create_task(self.sim.hub.drop(venue, abrupt))

    def expire_listen_key(self, account: str = "binance", close: bool = False) -> int:
        return self.sim.binance.expire(self.account(account), close)

    def push_raw(self, account: str, frame: str | bytes | list[str | bytes],
                 private: bool = True, public: bool = True, binary: bool = False) -> int:
        """Send `frame` (or each of a list of frames, in order) verbatim through the push path
        (latency and push faults apply) to the account's connected private sessions and its
        venue's public sessions (public market streams are not tied to an account). Returns
        how many frames were queued, over all sessions."""
        acct = self.account(account)
        hub = self.sim.hub
        targets = [s for s in hub.of(acct.venue) if (private and s.private and
                                                     s.account == acct.id)
                   or (public and not s.private)]
        frames = frame if isinstance(frame, list) else [frame]
        return sum(hub.push_raw(s, f, binary) for f in frames for s in targets)

    # -- state ---------------------------------------------------------------------------------
    def state(self, account: str | None = None) -> dict[str, Any]:
        accounts = [self.account(account)] if account else list(self.sim.engine.accounts.values())
        feed = self.sim.feed
        return {
            "prices": {s: fmt(p) for s, p in feed.prices.items()},
            "accounts": {a.id: {"venue": a.venue, "wallet": fmt(a.wallet),
                                "hedge": sorted(a.hedge)} for a in accounts},
            "orders": [order_state(o) for a in accounts for o in a.orders.values()],
            "stops": [order_state(o) for a in accounts for o in a.live.values() if o.is_trigger],
            "positions": [position_state(p, feed.price(p.symbol)) for a in accounts
                          for p in a.positions.values() if p.qty],
            "fills": [{"id": f.id, "order_id": f.order_id, "account": f.account,
                       "symbol": f.symbol, "side": f.side.value, "price": fmt(f.price),
                       "qty": fmt(f.qty), "fee": fmt(f.fee), "realized_pnl": fmt(f.realized_pnl),
                       "maker": f.maker, "time_ms": f.time_ms} for a in accounts for f in a.fills],
        }

    def requests(self, venue: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.sim.requests
                if venue in (None, r.venue) and (path is None or path in r.path)]

    def pushes(self, venue: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.sim.hub.sent if venue in (None, p["venue"])]

    def coverage(self, account: str | None = None,
                 symbol: str | None = None) -> list[dict[str, Any]]:
        """For each position ever open: the intervals it spent with no stop on the venue."""
        return self.sim.coverage.report(self._account_id(account), symbol)

    def largest_naked(self, account: str | None = None, kind: GapKind | str | None = None,
                      symbol: str | None = None) -> dict[str, Any] | None:
        """The longest interval any position spent without a stop (`kind` entry or move)."""
        return self.sim.coverage.largest(self._account_id(account), kind, symbol)

    def _account_id(self, name: str | None) -> str | None:
        return None if name is None else self.account(name).id
