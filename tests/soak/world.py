"""What a soak scenario runs against: a private PostgreSQL cluster the soak may stop and start, the
simulator on its own thread, and `warden run` as a process that can be SIGKILLed and restarted.

The cluster is always a throwaway one (`tests.pg._start_throwaway`), never the system server:
stopping it mid-run is part of the soak.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.pg import PgServer, _reachable, _start_throwaway
from tests.pg import stop as remove_cluster
from warden.adapters.signal_client import signed_headers

ROOT = Path(__file__).resolve().parents[2]
SECRET = "soak-webhook-canary-9d2e"
KEYS = {"SOAK_BYBIT_KEY": "bybit-key", "SOAK_BYBIT_SECRET": "bybit-secret",
        "SOAK_BINANCE_KEY": "binance-key", "SOAK_BINANCE_SECRET": "binance-secret",
        "SOAK_INTAKE_SECRET": SECRET}
REQUEST_TIMEOUT_S = 1.0
RECONCILE_S = 1.0


class Cluster:
    """A private PostgreSQL cluster: one fresh database per scenario, stopped and started at will."""

    def __init__(self) -> None:
        self.server: PgServer = _start_throwaway()
        self._wait_up()

    def _pg_ctl(self, *args: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, f"{self.server.bindir}/pg_ctl", "-D", str(self.server.cluster_dir),
                        *args], check=True, capture_output=True, timeout=60)

    def _wait_up(self) -> None:
        for _ in range(100):
            if _reachable(self.server) is None:
                return
            time.sleep(0.1)
        raise RuntimeError("the soak's PostgreSQL cluster does not answer")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        datadir = self.server.cluster_dir
        self._pg_ctl("-l", f"{datadir}/log", "-w", "-o",
                     f"-p {self.server.port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off",
                     "start")
        self._wait_up()

    def create_database(self) -> str:
        name = f"soak_{uuid.uuid4().hex[:12]}"
        with self.server.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.server.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def remove(self) -> None:
        remove_cluster(self.server)


def write_config(path: Path, store_url: str, rest: str) -> Path:
    ws = "ws" + rest[4:]
    exchanges = "".join(f"""
[[exchanges]]
venue = "{venue}"
account = "{account}"
rest_url = "{rest}"
ws_url = "{ws}"
api_key_env = "SOAK_{key}_KEY"
secret_env = "SOAK_{key}_SECRET"
request_timeout_s = {REQUEST_TIMEOUT_S}
ws_keepalive_s = 5
feed_quiet_s = 10
""" for venue, account, key in (("bybit", "bybit", "BYBIT"), ("binanceusdm", "binance", "BINANCE")))
    path.write_text(f"""
[store]
url = "{store_url}"
[policy]
initial_stop_percent = "2"
trailing_activation_percent = "1"
trailing_callback_percent = "0.5"
trailing_min_interval_seconds = "0"
phantom_policy = "adopt"
[engine]
reconcile_interval_s = {RECONCILE_S}
fill_timeout_s = 1.0
startup_budget_s = 120
{exchanges}
[intake]
port = 0
secret_env = "SOAK_INTAKE_SECRET"
[health]
port = 0
[metrics]
port = 0
""")
    return path


class Warden:
    """`warden run` as a process: started, SIGKILLed, restarted; its stderr kept in ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self.starts = 0
        self.down_since: float | None = None
        self.downtime: list[tuple[float, float]] = []  # monotonic (from, to) with no process ready

    def start(self) -> None:
        """Start the process; its ready line is awaited on a thread (`wait_ready`)."""
        self._ready.clear()
        self.starts += 1
        with self.log.open("a") as err:
            command = [sys.executable, "-m", "warden", "run", "--config", str(self.config)]
            self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **KEYS},
                                            stdout=subprocess.PIPE, stderr=err, text=True)
        threading.Thread(target=self._read_ready, args=(self.process,), daemon=True).start()

    def _read_ready(self, process: subprocess.Popen[str]) -> None:
        line = process.stdout.readline() if process.stdout else ""
        if line:
            self.urls = json.loads(line)
            if self.down_since is not None:
                self.downtime.append((self.down_since, time.monotonic()))
                self.down_since = None
            self._ready.set()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._ready.clear()
        self.down_since = time.monotonic()

    def stop(self) -> int | None:
        """SIGTERM and wait: the exit code (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None

    def health(self) -> dict[str, Any] | None:
        if not self.ready:
            return None
        try:
            with urllib.request.urlopen(self.urls["health"], timeout=5) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b"{}")
        except (OSError, ValueError):
            return None

    def post_signal(self, payload: dict[str, Any]) -> int | None:
        """Post one signed signal: the HTTP status, None when nothing answered."""
        if not self.ready:
            return None
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = urllib.request.Request(self.urls["intake"], data=body, method="POST",
                                         headers=signed_headers(SecretStr(SECRET), body))
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None
