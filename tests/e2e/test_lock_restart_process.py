"""`warden run` as the active instance and `warden run` as its standby over one PostgreSQL database,
which restarts: the advisory locks go with it, and afterwards at most one of the two trades. Either
the active instance takes its lock again first (the standby stays a standby) or the standby does,
and then the active instance stops and exits 1 before the standby's grace (engine.lock_grace_s)
is over. A standby started after the restart (restarted by its supervisor, say) waits too.

The database is a throwaway cluster of this module's own (`private_pg`), never the shared server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from tests import pg
from tests.e2e.processes import ENV, ROOT, wait_for
from warden.adapters.instance_lock import lock_key

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(private_pg: pg.PgServer) -> Iterator[str]:
    """Overrides the shared server's database: the `config` fixture's store is on the private cluster."""
    with private_pg.database("warden_lock_e2e") as url:
        yield url


def run(config: Path, log: Path) -> subprocess.Popen:
    """`warden run`, its JSON log in a file (a pipe nobody reads would fill up and stall it)."""
    with log.open("w") as errors:
        return subprocess.Popen([sys.executable, "-m", "warden", "run", "--config", str(config)], cwd=ROOT,
                                env=ENV, stdout=subprocess.DEVNULL, stderr=errors, text=True)


def logged(text: str, event: str) -> list[datetime]:
    """When each JSON log line of ``event`` was written."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and f'"event": "{event}"' in line:
            found.append(datetime.fromisoformat(json.loads(line)["ts"]))
    return found


def test_after_a_database_restart_the_active_instance_or_its_standby_trades_never_both(
        simulator, config: Path, private_pg, tmp_path):
    config.write_text(config.read_text() + "\n[engine]\nstandby = true\n")
    active_log, standby_log = tmp_path / "active.log", tmp_path / "standby.log"
    active = run(config, active_log)
    standby = None
    try:
        wait_for(lambda: logged(active_log.read_text(), "ready") or active.poll() is not None,
                 what="the first instance ready")
        assert active.poll() is None, active_log.read_text()[-2000:]
        standby = run(config, standby_log)
        wait_for(lambda: logged(standby_log.read_text(), "standby"), what="the second instance waiting")
        pg.pause(private_pg)
        time.sleep(1)
        pg.resume(private_pg)
        restarted = time.monotonic()
        # the standby polls every second and then waits its 3 s grace; the active instance checks
        # every 0.5 s: one of them has the locks within a few seconds
        wait_for(lambda: active.poll() is not None or time.monotonic() - restarted > 8, timeout=20,
                 what="the race to be decided")
        if active.poll() is None:  # it took its locks again: the standby must still be waiting
            late_log = tmp_path / "late.log"  # and so must one started now (restarted by a supervisor)
            late = run(config, late_log)
            try:
                wait_for(lambda: late.poll() is not None or any(
                    logged(late_log.read_text(), event) for event in ("standby", "ready")),
                    what="the third instance to wait or start")
                time.sleep(4)  # past a grace
                assert active.poll() is None
                for log in (standby_log, late_log):
                    assert not logged(log.read_text(), "ready"), log.read_text()[-2000:]
            finally:
                late.send_signal(signal.SIGTERM)
                assert late.wait(timeout=30) == 0, late_log.read_text()[-2000:]
            print("\nthe active instance kept its locks; the standbys still wait")
        else:  # the standby took them: the active instance stopped, and before the standby traded
            assert active.returncode == 1
            stderr = active_log.read_text()
            assert "another warden instance took the instance lock" in stderr.splitlines()[-1]
            [lost] = logged(stderr, "lock_lost")
            wait_for(lambda: logged(standby_log.read_text(), "ready"), what="the standby to take over")
            [ready] = logged(standby_log.read_text(), "ready")
            assert lost < ready, (lost, ready)
            ahead = (ready - lost).total_seconds()
            print(f"\nthe standby took over; the active instance stopped {ahead:.1f} s before it traded")
    finally:
        for process in (standby, active):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        active.wait(timeout=30)
        assert standby is None or standby.wait(timeout=30) == 0


def test_an_instance_whose_lock_another_took_stops_and_exits_1(simulator, config: Path, private_pg, pg_url,
                                                               tmp_path):
    """The lock's session is cut (as a restart cuts it) and another session takes the locks before
    the instance can: it must stop trading at once and exit 1, for a supervisor to restart it."""
    active_log = tmp_path / "active.log"
    active = run(config, active_log)
    try:
        wait_for(lambda: logged(active_log.read_text(), "ready") or active.poll() is not None,
                 what="the instance ready")
        keys = [lock_key("bybit", "bybit"), lock_key("binanceusdm", "binance")]
        with psycopg.connect(pg_url, autocommit=True) as other:
            [[pid]] = other.execute(
                "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchall()
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for key in keys:  # queued before the instance's own reconnect, so granted first
                other.execute("SELECT pg_advisory_lock(%s)", (key,))
            assert active.wait(timeout=30) == 1
        text = active_log.read_text()
        assert logged(text, "lock_lost")
        assert "stopped: another warden instance took the instance lock" in text.splitlines()[-1], text[-999:]
    finally:
        if active.poll() is None:
            active.send_signal(signal.SIGTERM)
            active.wait(timeout=30)
