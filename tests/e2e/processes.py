"""Running warden's commands as processes for the end-to-end tests, and the fixtures they share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-canary-5a1c"


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
    process = subprocess.Popen([sys.executable, "-m", "warden", "sim", "--json", "--tick", "0"], cwd=ROOT,
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
    process = subprocess.Popen([sys.executable, "-m", "warden", "run", "--config", str(config)], cwd=ROOT,
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"warden run did not start: {process.stderr.read()}")
    return process, json.loads(line)


def warden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warden", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=60)
