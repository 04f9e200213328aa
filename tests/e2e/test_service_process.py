"""`warden sim` and `warden run` as separate processes on loopback, with PostgreSQL.

Signed signals go in over HTTP (and a few bad ones), positions are watched through `warden status`
and /metrics, the service is stopped with SIGTERM and restarted, and a second instance is shown not
to trade while the first holds the accounts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-canary-5a1c"
pytestmark = pytest.mark.postgres


def http(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    return json.loads(text) if text.startswith(("{", "[")) else {"text": text}


def wait_for(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def simulator():
    process = subprocess.Popen([sys.executable, "-m", "app", "sim", "--json", "--tick", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    urls = json.loads(process.stdout.readline())
    yield urls
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def config(tmp_path, simulator, pg_url) -> Path:
    rest = simulator["bybit"]["rest"]
    ws = "ws" + rest[4:]
    path = tmp_path / "warden.toml"
    path.write_text(f"""
[store]
url = "{pg_url}"
[policy]
trailing_activation_percent = "1"
trailing_min_interval_seconds = "0"
[[exchanges]]
venue = "bybit"
account = "bybit"
rest_url = "{rest}"
ws_url = "{ws}"
api_key_env = "E2E_BYBIT_KEY"
secret_env = "E2E_BYBIT_SECRET"
[[exchanges]]
venue = "binanceusdm"
account = "binance"
rest_url = "{rest}"
ws_url = "{ws}"
api_key_env = "E2E_BINANCE_KEY"
secret_env = "E2E_BINANCE_SECRET"
[intake]
port = 0
secret_env = "E2E_INTAKE_SECRET"
[health]
port = 0
[metrics]
port = 0
""")
    return path


ENV = {**os.environ, "E2E_BYBIT_KEY": "bybit-key", "E2E_BYBIT_SECRET": "bybit-secret",
       "E2E_BINANCE_KEY": "binance-key", "E2E_BINANCE_SECRET": "binance-secret",
       "E2E_INTAKE_SECRET": SECRET}


def start_warden(config: Path) -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen([sys.executable, "-m", "app", "run", "--config", str(config)], cwd=ROOT,
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"warden run did not start: {process.stderr.read()}")
    return process, json.loads(line)


def warden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=60)


def test_signals_in_positions_protected_restart_and_no_second_trader(simulator, config, pg_url):
    control = simulator["control"]
    process, urls = start_warden(config)
    try:
        sent = warden("signal", "--url", urls["intake"], "--config", str(config), "--id", "e2e-1",
                      "--exchange", "bybit", "--account", "bybit", "--symbol", "BTCUSDT", "--side", "long",
                      "--quantity", "0.010")
        assert "accepted" in sent.stdout, sent.stdout + sent.stderr
        warden("signal", "--url", urls["intake"], "--config", str(config), "--id", "e2e-2",
               "--exchange", "binanceusdm", "--account", "binance", "--symbol", "ETHUSDT", "--side", "short",
               "--quantity", "0.5")
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            http(urls["intake"], {"signal_id": "unsigned", "exchange": "bybit"})
        assert unsigned.value.code == 401

        wait_for(lambda: warden("status", "--store", pg_url).stdout.count("PROTECTED") == 2,
                 what="two protected positions")
        http(control + "/price", {"symbol": "BTCUSDT", "price": "60800"})
        wait_for(lambda: "TRAILING" in warden("status", "--store", pg_url).stdout, what="trailing")
        metrics = http(urls["metrics"])["text"]
        assert re.search(r'warden_signals_total\{outcome="accepted"\} 2\.0', metrics)
        assert re.search(r'warden_signals_total\{outcome="rejected"\} [1-9]', metrics)
        assert http(urls["health"])["ok"] is True

        second = warden("run", "--config", str(config))  # the same accounts: must not trade
        assert second.returncode != 0 and "another warden instance is active" in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    stderr = process.stderr.read()
    exported = warden("events", "export", "--store", pg_url).stdout
    shown = warden("status", "--store", pg_url).stdout
    for text in (stderr, exported, shown):  # the canaries appear nowhere
        assert SECRET not in text and "bybit-secret" not in text and "binance-secret" not in text
    assert '"event": "EntryFilled"' in stderr  # JSON log lines name the event ...
    assert re.search(r'"position_id": "[0-9a-f-]{36}"', stderr)  # ... and the position

    restarted, urls = start_warden(config)
    try:
        http(control + "/price", {"symbol": "BTCUSDT", "price": "61400"})
        wait_for(lambda: "61093" in warden("status", "--store", pg_url).stdout, what="the stop to move on")
        orders = http(control + "/state?account=bybit")["result"]["orders"]
        assert len([o for o in orders if o["client_id"] and "entry" in o["client_id"]]) == 1
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
