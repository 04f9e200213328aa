"""Regenerate the example logs in examples/: the real engine against the simulator, one log each.

Each example is one or two scenarios of `warden demo` (runtime/demo/scenarios.py), run alone in
a fresh `World` (simulator, ccxt adapters, private streams, engine, service) over 127.0.0.1 on an
in-memory store, then exported as JSON Lines. Times and the adopted phantom's id change from run
to run; each position's sequence of events does not (tests/e2e/test_examples.py checks it).

    .venv/bin/python examples/generate.py            # all of them
    .venv/bin/python examples/generate.py phantom    # one
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

from warden.adapters.eventlog import export_log
from warden.adapters.store import open_store
from warden.runtime.demo.narrator import Narrator
from warden.runtime.demo.scenarios import Script
from warden.runtime.demo.world import World

HERE = Path(__file__).resolve().parent

# example name -> the demo's scenarios it runs; the market steps give the open positions prices
EXAMPLES = {
    "seed-incident": ("seed_incident", "market_noise"),
    "phantom": ("phantom", "market_noise"),
    "websocket-outage": ("websocket_outage",),
    "trailing-stop": ("trailing",),
    "aged-exit": ("aged_exit",),
}


async def record(name: str, *, seed: int = 0, echo=lambda line: None) -> str:
    """Run example ``name``'s scenarios; returns the exported log (JSON Lines)."""
    store = open_store("memory://")
    narrators: list[Narrator] = []
    async with World(store, seed=seed, on_engine=lambda e: narrators.append(Narrator(e, echo))) as world:
        script = Script(world, narrators[0], echo)
        for scenario in EXAMPLES[name]:
            await getattr(script, scenario)()
        await world.engine.idle()
    out = io.StringIO()
    export_log(store, out)
    return out.getvalue()


async def main(names: list[str]) -> None:
    for name in names or list(EXAMPLES):
        path = HERE / f"{name}.jsonl"
        path.write_text(await record(name, echo=print), encoding="utf8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
