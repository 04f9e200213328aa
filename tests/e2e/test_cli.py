"""The ``warden`` command as a user runs it: a separate process on a real SQLite file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def warden(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "warden", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"warden {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.sqlite3"
    return url, warden("demo", "--store", url).stdout


def replay_id(out: str, scenario: str) -> str:
    return re.search(rf"warden replay (\w+) --store \S+ +# {scenario}:", out).group(1)


def test_the_demo_shows_the_seed_incident_handled(demo):
    _, out = demo
    fill = re.search(r"10000SATSUSDT LONG\s+filled at ([\d.]+) \(source (\w+)\)", out)
    assert float(fill.group(1)) > 0 and fill.group(2) != "ORDER_RESPONSE"
    assert "REJECTED (10001): price must be greater than minimum price precision" in out
    assert "PHANTOM BTCUSDT: LONG 0.02 open on the exchange, untracked; policy adopt" in out
    assert re.search(r"phantom\s+BTCUSDT\s+bybit\s+LONG\s+PROTECTED", out)
    assert "INVARIANT VIOLATED" not in out and "all hold" in out


def test_replay_prints_the_timeline_and_the_state_at_a_version(demo):
    url, out = demo
    seed = replay_id(out, "seed incident")
    full = warden("replay", seed, "--store", url).stdout
    filled = re.search(r"^\s+(\d+)\s+\S+\s+EntryFilled", full, re.M).group(1)
    replay = warden("replay", seed, "--store", url, "--version", filled).stdout
    assert "EntryFilled" in replay and "StopLossRejected" not in replay
    assert "StopLossPlaced" not in replay
    assert re.search(r"status\s+FILLED", replay)
    trail = replay_id(out, "trailing stop")
    timeline = warden("replay", trail, "--store", url).stdout
    activated = re.search(r"^\s+\d+\s+(\S+)\s+TrailingActivated", timeline, re.M).group(1)
    just_after = datetime.fromisoformat(activated) + timedelta(milliseconds=1)  # shown to the ms
    at = just_after.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    at_time = warden("replay", trail, "--store", url, "--at", at).stdout
    assert re.search(r"status\s+TRAILING", at_time) and "PositionClosed" not in at_time


def test_export_import_and_replay_from_a_log_file(demo, tmp_path):
    url, out = demo
    log = tmp_path / "log.jsonl"
    log.write_text(warden("events", "export", "--store", url).stdout)
    assert json.loads(log.read_text().splitlines()[0])["format"] == "warden-event-log"
    imported = warden("events", "import", str(log), "--store", f"sqlite:///{tmp_path}/copy.sqlite3").stdout
    records = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    held = {(r["state"]["venue"], r["state"]["symbol"]) for r in records
            if r.get("topic", "").endswith((":SignalAccepted", ":PositionAdopted"))}
    tapes = {(r["state"]["venue"], r["state"]["symbol"]) for r in records
             if r.get("topic", "").endswith(":PriceTapeOpened")}
    assert tapes == held  # a price tape for each (venue, symbol) a position was on
    # 6 positions, 2 accounts and the tapes
    assert re.search(rf"imported \d+ events of {8 + len(tapes)} aggregates", imported)
    again = warden("events", "export", "--store", f"sqlite:///{tmp_path}/copy.sqlite3").stdout
    assert again == log.read_text()
    assert "TRAILING_STOP_HIT" in warden("replay", replay_id(out, "trailing stop"), "--log", str(log)).stdout


def test_unknown_ids_and_corrupt_lines_get_clear_errors(demo, tmp_path):
    url, _ = demo
    unknown = warden("replay", "abcdef", "--store", url, check=False)
    assert unknown.returncode == 1 and "no aggregate id starts with 'abcdef'" in unknown.stderr
    log = tmp_path / "bad.jsonl"
    lines = warden("events", "export", "--store", url).stdout.splitlines()
    lines[6] = "{garbage"
    log.write_text("\n".join(lines))
    bad = warden("events", "import", str(log), "--store", "memory://", check=False)
    assert bad.returncode == 1 and "line 7: not valid JSON" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_warden_sim_prints_its_urls_and_serves_the_control_api():
    import urllib.request

    process = subprocess.Popen([sys.executable, "-m", "warden", "sim", "--json", "--tick", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = json.loads(process.stdout.readline())
        assert urls["bybit"]["rest"].startswith("http://127.0.0.1:")
        assert urls["binance"]["ws_private"].startswith("ws://127.0.0.1:")
        with urllib.request.urlopen(urls["control"] + "/state", timeout=5) as answer:
            state = json.loads(answer.read())["result"]
        assert "BTCUSDT" in state["prices"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) in (0, -15)


def test_the_sim_and_signal_commands_load_only_when_asked_for():
    """``warden --help`` lists every command, and the quick ones (``events``, ``replay``, ...)
    start without importing ccxt, aiohttp or the simulator, which cost ~2 s a call."""
    listed = warden("--help").stdout
    assert re.search(r"^\s+sim\s+Run the simulated", listed, re.M), listed
    assert re.search(r"^\s+signal\s+Post signed signals", listed, re.M), listed
    assert "--port" in warden("sim", "--help").stdout
    probe = ("import sys, warden.app\n"
             "from click.testing import CliRunner\n"
             "CliRunner().invoke(warden.app.main, ['events', '--help'], catch_exceptions=False)\n"
             "print(sorted(m for m in ('ccxt', 'aiohttp', 'warden.sim.server') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True).stdout.strip()
    assert loaded == "[]"
