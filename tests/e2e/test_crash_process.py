"""The `warden run` process killed at each step of the open saga, then restarted.

`WARDEN_CRASH_AT=<step>` makes the process die there with `os._exit` (no cleanup, like SIGKILL).
The restarted process must end with the position protected and exactly one entry order and one
stop on the (simulated) exchange.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.e2e.processes import ENV, ROOT, http, start_warden, wait_for, warden

pytestmark = pytest.mark.postgres

STEPS = ["entry-requested", "entry-sent", "entry-recorded", "fill-recorded", "stop-requested",
         "stop-sent", "stop-recorded"]


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_process_resumes_to_protected_with_one_entry_order(simulator, config, pg_url, step):
    crashing = subprocess.Popen([sys.executable, "-m", "warden", "run", "--config", str(config)], cwd=ROOT,
                                env={**ENV, "WARDEN_CRASH_AT": step}, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    urls = json.loads(crashing.stdout.readline())
    warden("signal", "--url", urls["intake"], "--config", str(config), "--id", f"kill-{step}",
           "--exchange", "bybit", "--account", "bybit", "--symbol", "BTCUSDT", "--side", "long",
           "--quantity", "0.010")
    assert crashing.wait(timeout=30) == 137  # died at `step`

    restarted, _ = start_warden(config)
    try:
        wait_for(lambda: "PROTECTED" in warden("status", "--store", pg_url).stdout, what="protected")
        state = http(simulator["control"] + "/state?account=bybit")["result"]
        entries = [o for o in state["orders"] if o["client_id"] and o["client_id"].endswith("entry0")]
        [position] = [p for p in state["positions"] if p["symbol"] == "BTCUSDT"]
        assert len(entries) == 1 and Decimal(position["qty"]) == Decimal("0.010")
        assert position["stop_loss"] is not None
    finally:
        restarted.terminate()
        assert restarted.wait(timeout=30) == 0

