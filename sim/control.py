"""Control of the simulator for tests and operators: a Python API and its HTTP twin under /_sim.

Prices (set, script, step), positions opened or closed "from outside" (phantoms), faults,
websocket drops, listenKey expiry, and read access to state and the request log. The HTTP routes
take and return JSON; decimals travel as strings.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .book import Account, Order, Position, Side
from .faults import Fault, FaultKind
from .hub import SIM
from .market import ManualClock, fmt

if TYPE_CHECKING:
    from .server import Simulator


def order_state(o: Order) -> dict[str, Any]:
    return {"id": o.id, "account": o.account, "symbol": o.symbol, "side": o.side.value,
            "kind": o.kind.value, "status": o.status.value, "qty": fmt(o.qty),
            "filled_qty": fmt(o.filled_qty), "avg_price": fmt(o.avg_price),
            "trigger_price": fmt(o.trigger_price), "reduce_only": o.reduce_only,
            "close_position": o.close_position, "client_id": o.client_id,
            "created_ms": o.created_ms, "updated_ms": o.updated_ms}


def position_state(p: Position, mark: Decimal) -> dict[str, Any]:
    return {"account": p.account, "symbol": p.symbol, "qty": fmt(p.qty),
            "side": p.side.value if p.side else None, "entry_price": fmt(p.entry_price),
            "mark_price": fmt(mark), "realized_pnl": fmt(p.realized_pnl),
            "stop_loss": fmt(p.stop_loss), "trailing_distance": fmt(p.trailing_distance),
            "leverage": p.leverage}


class Control:
    """The simulator's control surface; every method is synchronous and loop-local."""

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

    # -- faults --------------------------------------------------------------------------------
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

    # -- state ---------------------------------------------------------------------------------
    def state(self, account: str | None = None) -> dict[str, Any]:
        accounts = [self.account(account)] if account else list(self.sim.engine.accounts.values())
        feed = self.sim.feed
        return {
            "prices": {s: fmt(p) for s, p in feed.prices.items()},
            "accounts": {a.id: {"venue": a.venue, "wallet": fmt(a.wallet)} for a in accounts},
            "orders": [order_state(o) for a in accounts for o in a.orders.values()],
            "stops": [order_state(o) for a in accounts for o in a.orders.values()
                      if o.is_trigger and o.status.is_open],
            "positions": [position_state(p, feed.price(p.symbol)) for a in accounts
                          for p in a.positions.values() if p.qty],
            "fills": [{"id": f.id, "order_id": f.order_id, "account": f.account,
                       "symbol": f.symbol, "side": f.side.value, "price": fmt(f.price),
                       "qty": fmt(f.qty), "fee": fmt(f.fee), "realized_pnl": fmt(f.realized_pnl),
                       "time_ms": f.time_ms} for a in accounts for f in a.fills],
        }

    def requests(self, venue: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.sim.requests
                if venue in (None, r.venue) and (path is None or path in r.path)]

    def pushes(self, venue: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.sim.hub.sent if venue in (None, p["venue"])]


# -- HTTP twin -----------------------------------------------------------------------------------
async def _json(request: web.Request) -> dict[str, Any]:
    return await request.json() if request.can_read_body else {}


async def _dispatch(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM]
    ctl, q = sim.control, dict(request.query)
    body = await _json(request)
    action = request.match_info["action"]
    try:
        result: Any
        if action == "urls":
            result = sim.urls()
        elif action == "state":
            result = ctl.state(q.get("account"))
        elif action == "requests":
            result = ctl.requests(q.get("venue"), q.get("path"))
        elif action == "pushes":
            result = ctl.pushes(q.get("venue"))
        elif action == "price" and "prices" in body:
            result = ctl.script_prices(body["symbol"], body["prices"])
        elif action == "price":
            result = ctl.set_price(body["symbol"], body["price"])
        elif action == "step":
            result = ctl.step(int(body.get("count", 1)), body.get("symbols"))
        elif action == "open-position":
            result = ctl.open_position(body.get("account", "bybit"), body["symbol"],
                                       body["side"], body["qty"])
        elif action == "close-position":
            result = ctl.close_position(body.get("account", "bybit"), body["symbol"])
        elif action == "faults" and request.method == "GET":
            result = ctl.faults()
        elif action == "faults" and request.method == "DELETE":
            result = ctl.clear_faults(q.get("kind"), q.get("venue"))
        elif action == "faults":
            result = sim.faults.add(Fault.from_dict(body)).to_dict()
        elif action == "drop-websockets":
            result = await sim.hub.drop(body.get("venue"), bool(body.get("abrupt", False)))
        elif action == "expire-listen-key":
            result = ctl.expire_listen_key(body.get("account", "binance"),
                                           bool(body.get("close", False)))
        else:
            return web.json_response({"error": f"unknown action {action}"}, status=404)
    except (KeyError, ValueError, TypeError) as err:
        return web.json_response({"error": f"{type(err).__name__}: {err}"}, status=400)
    return web.json_response({"result": result})


def setup(app: web.Application, sim: Simulator) -> None:
    app.router.add_route("*", "/_sim/{action}", _dispatch)
