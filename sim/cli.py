"""`warden sim`: run the simulated exchange as a process (registered by app.py as `sim_command`).

Prints the Bybit and Binance REST/websocket base URLs and the control API URL (or one JSON
object with `--json`), then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from decimal import Decimal, InvalidOperation

import click

from .server import DEFAULT_ACCOUNTS, AccountSpec, Simulator


def _account(text: str) -> AccountSpec:
    parts = text.split(":")
    if len(parts) != 4 or parts[0] not in ("bybit", "binance"):
        raise click.BadParameter("expected venue:id:api_key:secret, venue bybit or binance")
    venue, account_id, key, secret = parts
    return AccountSpec(account_id, venue, key, secret)


async def _serve(sim: Simulator, as_json: bool) -> None:
    await sim.start()
    urls = sim.urls()
    if as_json:
        click.echo(json.dumps(urls), nl=True)
    else:
        for venue in ("bybit", "binance"):
            for name, url in urls[venue].items():
                click.echo(f"{venue:8} {name:11} {url}")
        click.echo(f"{'control':8} {'http':11} {urls['control']}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, type=int, help="0 picks a free port.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random-walk seed.")
@click.option("--prices", "prices", type=click.Path(exists=True, dir_okay=False),
              help="CSV of `symbol,price` (or `ts,symbol,price`) rows to replay.")
@click.option("--tick", default=1.0, show_default=True, type=float,
              help="Seconds between price steps (0 keeps prices still until set).")
@click.option("--account", "accounts", multiple=True,
              help="venue:id:api_key:secret (repeatable; default bybit-key/binance-key).")
@click.option("--json", "as_json", is_flag=True, help="Print the URLs as one JSON line.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Added to every REST round trip and every websocket push.")
@click.option("--jitter-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Uniform +/- jitter on the latency, seeded by --seed.")
@click.option("--spread-bps", default="0", show_default=True,
              help="Bid/ask spread around the mark, in basis points.")
@click.option("--depth", default=None, help="Contracts per book level (default: unlimited).")
@click.option("--partial-fills", default=1, show_default=True, type=click.IntRange(min=1),
              help="Executions every order fills in.")
@click.option("--liquidation", is_flag=True, help="Liquidate positions at their liquidation "
                                                 "price (maintenance margin per instrument).")
def sim_command(host: str, port: int, seed: int, prices: str | None, tick: float,
                accounts: tuple[str, ...], as_json: bool, latency_ms: float, jitter_ms: float,
                spread_bps: str, depth: str | None, partial_fills: int,
                liquidation: bool) -> None:
    """Run the simulated Bybit v5 / Binance USD-M exchange.

    Serves both venues' REST and websocket endpoints and the control API (/_sim) on one loopback
    port, and prints their URLs (docs/simulator.md).

    \b
    Examples:
      warden sim --port 8900 --seed 7
      warden sim --json --tick 0      # prices still until set through the control API
      warden sim --latency-ms 80 --jitter-ms 20 --spread-bps 2 --depth 0.5
      curl -s -X POST localhost:8900/_sim/open-position \\
        -d '{"account": "bybit", "symbol": "BTCUSDT", "side": "buy", "qty": "0.02"}'
    """
    specs = [_account(a) for a in accounts] or list(DEFAULT_ACCOUNTS)
    try:
        book = {"spread_bps": Decimal(spread_bps), "depth": Decimal(depth) if depth else None}
    except InvalidOperation:
        raise click.BadParameter("--spread-bps and --depth take decimal numbers") from None
    sim = Simulator(host=host, port=port, seed=seed, prices_csv=prices,
                    tick_interval=tick or None, accounts=specs, latency_ms=latency_ms,
                    jitter_ms=jitter_ms, partial_fills=partial_fills, liquidation=liquidation,
                    **book)
    asyncio.run(_serve(sim, as_json))


if __name__ == "__main__":
    sim_command()
