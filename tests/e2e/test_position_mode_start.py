"""``warden run`` against a simulated account in hedge mode: it ends with one line on stderr naming
the account and the setting to change, exit code 1, nothing served, nothing sent to the venue."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_startup_failures import BASE, CANARY, START, TEMPLATE, run_warden
from warden.sim import AccountSpec, SimulatorThread

LAST_LINE = {
    "bybit": START + r"bybit/main is in hedge mode \(BTCUSDT positionIdx 1 and 2\); warden supports "
    r"one-way mode only: switch the symbols to one-way mode \(Position Mode \"One-Way\", positionIdx 0: "
    r"POST /v5/position/switch-mode mode=0 with coin=USDT or symbol=\.\.\.\)",
    "binanceusdm": START + r"binanceusdm/main is in hedge mode \(dualSidePosition true\); warden supports "
    r"one-way mode only: set dualSidePosition to false \(Position Mode \"One-way\": "
    r"POST /fapi/v1/positionSide/dual dualSidePosition=false\)",
}


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_hedge_mode_account_stops_the_start_in_one_line(tmp_path, venue):
    short = "bybit" if venue == "bybit" else "binance"
    account = AccountSpec("main", short, CANARY + "-key", CANARY, hedge=True)
    with SimulatorThread(accounts=[account]) as thread:
        url = thread.sim.http_url
        text = TEMPLATE.replace('venue = "bybit"', f'venue = "{venue}"').format(**{
            **BASE, "budget": 30, "rest": url, "ws": "ws" + url[4:]}).format(
            tmp=tmp_path, closed=0, taken=0)
        config = tmp_path / "warden.toml"
        config.write_text(text)

        code, out, err, _ = run_warden(config, None)
        sent = [r for r in thread.control.requests() if r["method"] != "GET"]

    last = err.splitlines()[-1]
    assert code == 1 and out == "" and "Traceback" not in err and CANARY not in err
    assert re.fullmatch(LAST_LINE[venue], last), last
    assert not [r for r in sent if "listenKey" not in r["path"]]  # no order, no stop, no mode switch
