"""`warden sim` and `warden run` as separate processes on loopback, with PostgreSQL.

Signed signals go in over HTTP (and a few bad ones), positions are watched through `warden status`
and /metrics, the service is stopped with SIGTERM and restarted, and a second instance is shown not
to trade while the first holds the accounts.
"""

from __future__ import annotations

import re
import signal
import urllib.error

import pytest

from tests.e2e.processes import SECRET, http, start_warden, wait_for, warden

pytestmark = pytest.mark.postgres


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
