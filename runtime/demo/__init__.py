"""``warden demo``: the real engine and service against the simulated exchange, scripted.

The simulated Bybit v5 and Binance USD-M run in-process on 127.0.0.1; warden reaches them only
through its real ccxt adapters and private streams. A script (`scenarios.py`) plays the outside
world: the seed incident's faults, a phantom, a websocket outage, a trailing stop, an aged
position and a Binance short. Every notable event is printed as it is saved (`narrator.py`); at
the end every timeline, a table and the replay commands (`summary.py`), then the lifecycle
invariants are checked (`checks.py`). See docs/demo.md.
"""

from __future__ import annotations

from collections.abc import Callable

from warden.adapters.store import WardenStore
from warden.engine.core import Engine
from warden.runtime.demo.checks import check_invariants
from warden.runtime.demo.narrator import Narrator
from warden.runtime.demo.scenarios import Script
from warden.runtime.demo.summary import render_summary
from warden.runtime.demo.world import ScenarioFailed, World

__all__ = ["run_demo"]


async def run_demo(store: WardenStore, store_url: str, echo: Callable[[str], None], *,
                   seed: int = 0, speed: float = 1.0) -> list[str]:
    """Run every scenario, print the summary; return the violations (none: the demo passed)."""
    violations: list[str] = []
    narrators: list[Narrator] = []
    echo(f"warden demo: the engine and its service, real ccxt adapters and streams, against the "
         f"simulated Bybit and Binance USD-M on 127.0.0.1; events in {store_url} "
         f"(seed {seed}, speed {speed:g})")
    echo("\n== start ==\n   load the instruments, reconcile each account by REST, connect the streams")

    def narrate(engine: Engine) -> None:
        narrators.append(Narrator(engine, echo))

    async with World(store, seed=seed, speed=speed, on_engine=narrate) as world:
        narrator = narrators[0]
        script = Script(world, narrator, echo)
        for name in Script.SCENARIOS:
            try:
                await getattr(script, name)()
            except ScenarioFailed as failed:
                echo(f"   !!! {failed}")
                violations.append(f"scenario {narrator.scenario}: {failed}")
        await world.engine.idle()
        positions = list(narrator.positions.values())
        violations += check_invariants(world, positions, script.signals)
        render_summary(store, store_url, positions, narrator.labels, echo)
    echo(f"\ninvariants checked on {len(positions)} positions: "
         + ("all hold" if not violations else f"{len(violations)} VIOLATED (see stderr)"))
    return violations
