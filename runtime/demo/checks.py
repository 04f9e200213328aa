"""The lifecycle invariants the demo checks at the end; any violation makes it exit non-zero.

- every open position is protected, and its stop is really on the simulated exchange;
- every position rebuilt from the store (by folding its events, and through the repository's
  snapshots) equals the live aggregate the engine holds;
- no fill at a price <= 0 anywhere in the log or on the exchange;
- exactly one entry order on the exchange per signal;
- replaying each position's log through the policies reproduces every decision;
- nothing open on the exchange is untracked when the demo ends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from warden.domain import events as ev
from warden.domain.position import Position
from warden.projections.decisions import replay_decisions
from warden.projections.timeline import build_timeline
from warden.runtime.demo.world import World


def check_invariants(world: World, positions: list[Position], signals: list[str]) -> list[str]:
    """Every violation found, as a sentence naming the position; an empty list means all hold."""
    violations: list[str] = []
    state = world.sim.control.state()
    for p in positions:
        name = f"{p.venue} {p.symbol} {str(p.id)[:8]}"
        history = world.store.history(p.id)
        if build_timeline(history).aggregate.state() != p.state():
            violations.append(f"{name}: rebuilt from its events differs from the live aggregate")
        if world.store.repository.get(p.id).state() != p.state():
            violations.append(f"{name}: read back from the store differs from the live aggregate")
        if p.is_open and not p.is_protected:
            violations.append(f"{name}: open but not protected ({p.status.name})")
        elif p.is_open and not _stop_on_exchange(state, p):
            violations.append(f"{name}: stop {p.stop_price} is not on the exchange")
        violations += [f"{name}: fill at {e.price} recorded" for e in history
                       if isinstance(e, ev.EntryFilled) and e.price <= 0]
        violations += [f"{name}: decision v{d.version} {d.event} recorded {d.recorded}, "
                       f"replayed {d.replayed}" for d in replay_decisions(history, world.config)]
        if p.signal_id is not None:
            orders = [o for o in state["orders"] if o["client_id"] == p.entry_client_order_id]
            if len(orders) != 1:
                violations.append(f"{name}: {len(orders)} entry orders on the exchange for one signal")
    signalled = sorted(p.signal_id for p in positions if p.signal_id is not None)
    if signalled != sorted(signals):
        violations.append(f"signals {sorted(signals)} but positions for {signalled}")
    violations += [f"{f['account']} {f['symbol']}: exchange fill at {f['price']}"
                   for f in state["fills"] if Decimal(f["price"]) <= 0]
    violations += _account_fills(world)
    tracked = {(p.account, p.symbol) for p in positions if p.is_open}
    violations += [f"{v['account']} {v['symbol']}: open on the exchange but untracked"
                   for v in state["positions"] if (v["account"], v["symbol"]) not in tracked]
    return violations


def _stop_on_exchange(state: dict[str, Any], p: Position) -> bool:
    """The position's stop as the simulator holds it: Bybit's position stop or a trigger order."""
    held = [Decimal(s["trigger_price"]) for s in state["stops"]
            if s["account"] == p.account and s["symbol"] == p.symbol]
    held += [Decimal(v["stop_loss"]) for v in state["positions"]
             if v["account"] == p.account and v["symbol"] == p.symbol and v["stop_loss"]]
    return p.stop_price in held


def _account_fills(world: World) -> list[str]:
    found = []
    for account in world.engine.reconciler.accounts.values():
        found += [f"{account.venue}/{account.account}: fill at {e.fill.price} reported"
                  for e in world.store.history(account.id)
                  if isinstance(e, ev.FillReported) and e.fill.price is not None and e.fill.price <= 0]
    return found
