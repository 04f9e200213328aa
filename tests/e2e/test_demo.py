"""``warden demo`` as a user runs it: the engine against the simulated exchanges, in a process."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from warden.adapters.store import open_store
from warden.runtime.demo.checks import check_invariants
from warden.runtime.demo.world import World

ROOT = Path(__file__).resolve().parents[2]


def warden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warden", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


class Run:
    def __init__(self, url: str, *options: str) -> None:
        started = time.monotonic()
        self.url, self.result = url, warden("demo", "--store", url, *options)
        self.seconds = time.monotonic() - started
        self.out = self.result.stdout

    def section(self, title: str) -> str:
        return self.out.split(f"== {title} ==")[1].split("\n== ")[0]

    def row(self, scenario: str) -> list[str]:
        table = self.out.split("== positions ==")[1]
        line = next(x for x in table.splitlines() if x.startswith(scenario + " "))
        return line[len(scenario):].split()

    def replay_id(self, scenario: str) -> str:
        return re.search(rf"warden replay (\w+) --store \S+ +# {scenario}:", self.out).group(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return Run(f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.sqlite3")


def test_the_demo_passes_its_invariants_quickly(run):
    assert run.result.returncode == 0, run.result.stderr
    assert "invariants checked on 6 positions: all hold" in run.out
    assert "INVARIANT VIOLATED" not in run.result.stderr and "!!!" not in run.out
    assert run.seconds < 60


def test_the_seed_incident_fill_is_found_and_the_precision_rejection_is_retried(run):
    seed = run.section("seed incident")
    fill = re.search(r"10000SATSUSDT LONG\s+filled at ([\d.]+) \(source (\w+)\)", seed)
    assert Decimal(fill.group(1)) > 0 and fill.group(2) != "ORDER_RESPONSE"
    rejected = seed.index("REJECTED (10001): price must be greater than minimum price precision")
    assert seed.index("stop placed at", rejected) > rejected
    assert run.row("seed incident")[:4] == ["10000SATSUSDT", "bybit", "LONG", "PROTECTED"]


def test_the_phantom_is_adopted_and_protected(run):
    phantom = run.section("phantom")
    assert "PHANTOM BTCUSDT: LONG 0.02 open on the exchange, untracked; policy adopt" in phantom
    assert phantom.index("ADOPTED") < phantom.index("stop placed at 58800.0: PROTECTED")
    assert run.row("phantom")[:4] == ["BTCUSDT", "bybit", "LONG", "PROTECTED"]


def test_a_close_missed_during_the_outage_is_repaired_by_the_resync(run):
    outage = run.section("websocket outage")
    assert "warden heard nothing: still PROTECTED" in outage
    dropped = outage.index("websocket(s) dropped")
    assert dropped < outage.index("REST snapshot") < outage.index("CLOSED MANUAL at")
    assert run.row("websocket outage")[:4] == ["ETHUSDT", "binanceusdm", "LONG", "CLOSED"]


def test_the_trailing_stop_moves_up_and_is_hit(run):
    trailing = run.section("trailing stop")
    moves = [tuple(map(Decimal, m)) for m in re.findall(r"stop moved ([\d.]+) -> ([\d.]+)", trailing)]
    assert len(moves) >= 2 and all(new > old for old, new in moves)
    assert "CLOSED TRAILING_STOP_HIT" in trailing
    assert run.row("trailing stop")[4:7][-1] == "TRAILING_STOP_HIT"


def test_the_aged_position_exits_and_the_binance_short_stays_protected(run):
    aged = run.section("aged exit")
    # usually in phase 2 (the script moves the clock on a minute); in phase 1 when the simulated
    # price reached that phase's limit first (the random walk goes on while a loaded machine waits)
    closed = aged.index("CLOSED AGED_EXIT")
    assert aged.index("AGED:") < closed
    assert "aged phase 2" not in aged or aged.index("aged phase 2") < closed
    assert "AGED_EXIT" in run.row("aged exit")
    assert run.row("binance short")[:4] == ["BTCUSDT", "binanceusdm", "SHORT", "PROTECTED"]


def test_every_position_printed_can_be_replayed(run):
    commands = re.findall(r"warden replay (\w+) --store (\S+) +# ([^:]+):", run.out)
    assert len(commands) == 6 and {url for _, url, _ in commands} == {run.url}
    for prefix, url, _ in commands:
        replay = warden("replay", prefix, "--store", url)
        assert replay.returncode == 0 and "state after version" in replay.stdout, replay.stderr
    trailing = warden("replay", run.replay_id("trailing stop"), "--store", run.url).stdout
    assert "TRAILING_STOP_HIT" in trailing and "StopLossMoved" in trailing


def test_the_seed_changes_the_price_path(run, tmp_path):
    other = Run(f"sqlite:///{tmp_path}/other.sqlite3", "--seed", "7", "--speed", "2")
    assert other.result.returncode == 0, other.result.stderr
    activation = r"trailing activated at ([\d.]+)"
    assert re.search(activation, other.out).group(1) != re.search(activation, run.out).group(1)


async def test_a_stop_missing_from_the_exchange_is_a_violation():
    async with World(open_store("memory://")) as world:
        outcome = await world.engine.submit({"signal_id": "v1", "exchange": "bybit", "account": "bybit",
                                             "symbol": "BTCUSDT", "side": "long", "quantity": "0.010"})
        await world.engine.idle()
        position = world.engine.positions[outcome.position_id]
        assert check_invariants(world, [position], ["v1"]) == []

        port = world.engine.ctx.port(position)
        for stop in await port.fetch_stops("BTCUSDT"):  # someone removes the stop by hand
            await port.cancel_stop(stop)

        violations = check_invariants(world, [position], ["v1"])
    assert violations == [f"bybit BTCUSDT {str(position.id)[:8]}: stop {position.stop_price} "
                          "is not on the exchange"]
