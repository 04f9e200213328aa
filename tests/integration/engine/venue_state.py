"""Reading the simulated venue's own state in engine tests: the stops, orders and positions it holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tests.integration.engine.conftest import ACCOUNTS


@dataclass(frozen=True)
class HeldStop:
    price: Decimal
    qty: Decimal
    order_id: int | None  # None: the Bybit position's own stop
    client_id: str


def held_stops(sim, venue: str, symbol: str = "BTCUSDT") -> list[HeldStop]:
    """Every stop the venue holds on ``symbol``: open trigger orders, the position's own stop."""
    state = sim.control.state(ACCOUNTS[venue][0])
    position = next((p for p in state["positions"] if p["symbol"] == symbol), None)
    stops = [HeldStop(Decimal(s["trigger_price"]), Decimal(s["qty"]), s["id"], s["client_id"])
             for s in state["stops"] if s["symbol"] == symbol and s["kind"] != "position_sl"]
    if position is not None and position["stop_loss"] not in (None, "", "0"):
        stops.append(HeldStop(Decimal(position["stop_loss"]), Decimal(position["qty"]).copy_abs(),
                              None, ""))
    return stops


def open_orders(sim, venue: str, symbol: str = "BTCUSDT") -> list[dict]:
    """Every open order the venue holds on ``symbol`` (regular and trigger)."""
    state = sim.control.state(ACCOUNTS[venue][0])
    return [o for o in state["orders"] if o["symbol"] == symbol
            and o["status"] in ("new", "untriggered", "partially_filled")]


def position_qty(sim, venue: str, symbol: str = "BTCUSDT") -> Decimal:
    state = sim.control.state(ACCOUNTS[venue][0])
    return next((Decimal(p["qty"]) for p in state["positions"] if p["symbol"] == symbol), Decimal(0))


def events(store, position_id, name: str) -> list:
    return [e for e in store.history(position_id) if type(e).__name__ == name]
