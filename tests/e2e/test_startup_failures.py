"""Every way to start ``warden run`` wrong, run as a process: it ends with one line on stderr naming
the cause (no traceback), a non-zero exit code, and nothing served; what it retried is logged as
JSON lines before that. A SIGTERM during startup stops it within seconds, exit 0.

Each case is a configuration (the base below with some fields changed) plus what the world around
it holds: a port taken, the instance lock taken, a SIGTERM sent once a given log line appeared.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import ROOT
from warden.adapters.instance_lock import InstanceLock

CANARY = "startup-canary-6d2f91"
ENV = {**os.environ, "T_KEY": CANARY + "-key", "T_SECRET": CANARY, "T_INTAKE": CANARY + "-intake"}
BASE = {
    "store": "sqlite:///{tmp}/var/warden.sqlite3", "budget": 1, "standby": "false",
    "rest": "http://127.0.0.1:{closed}", "ws": "ws://127.0.0.1:{closed}", "exchange_extra": "",
    "intake_host": "127.0.0.1", "intake_port": 0, "intake_extra": "", "health_host": "127.0.0.1",
}
TEMPLATE = """
[store]
url = "{store}"
[engine]
startup_budget_s = {budget}
standby = {standby}
[[exchanges]]
venue = "bybit"
rest_url = "{rest}"
ws_url = "{ws}"
api_key_env = "T_KEY"
secret_env = "T_SECRET"
{exchange_extra}
[intake]
host = "{intake_host}"
port = {intake_port}
secret_env = "T_INTAKE"
{intake_extra}
[health]
host = "{health_host}"
port = 0
[metrics]
port = 0
"""


@dataclass
class World:
    """What the machine holds while warden starts: a port nobody listens on, a port taken."""

    tmp: Path
    closed: int
    taken: int
    held: list[Any] = field(default_factory=list)

    def hold_the_lock(self) -> None:
        lock = InstanceLock(f"sqlite:///{self.tmp}/var/warden.sqlite3", [("bybit", "main")])
        assert lock.try_acquire()
        self.held.append(lock)


@dataclass(frozen=True)
class Case:
    name: str
    fields: dict[str, Any]
    code: int
    last_line: str  # a regex the last line of stderr must match
    retries: bool = False  # JSON retry lines come before it
    sigterm_after: str | None = None  # send SIGTERM once stderr shows this
    prepare: Callable[[World], None] = lambda world: None


CONFIG, START = r"Error: invalid configuration: ", r"Error: cannot start: "
STOPPED = r'\{.*"msg": "warden stopped by a signal before it was ready, while '
CASES = [
    Case("ws_url that is not a URL", {"ws": "ws://[::1"}, 2,
         CONFIG + r"exchanges\[0\]\.ws_url: not a valid URL \(Invalid IPv6 URL\)"),
    Case("a timeout of 1e400 s", {"exchange_extra": 'request_timeout_s = "1e400"'}, 2,
         CONFIG + r"exchanges\[0\]\.request_timeout_s: expected a finite number, got '1e400'"),
    Case("a rate of 1e-30 per second", {"intake_extra": 'rate_per_second = "1e-30"'}, 2,
         CONFIG + r"intake\.rate_per_second: expected a number between 0\.01 and 100000, got '1e-30'"),
    Case("a port out of range", {"intake_port": 70000}, 2,
         CONFIG + r"intake\.port: expected an integer between 0 and 65535, got 70000"),
    Case("an unknown key", {"exchange_extra": "recv_windw_ms = 5000"}, 2,
         CONFIG + r"exchanges\[0\]\.recv_windw_ms: unknown key \(known: .*\)"),
    Case("a password in the store URL", {"store": f"postgresql://warden:{CANARY}@127.0.0.1/warden"}, 2,
         CONFIG + r"store\.url: contains a password; .* store\.password_env .*"),
    Case("a password in the exchange URL's query", {"rest": f"http://127.0.0.1:1/?api_key={CANARY}"}, 2,
         CONFIG + r"exchanges\[0\]\.rest_url: contains a password; .*secret_env.*"),
    Case("an unreachable PostgreSQL", {"store": "postgresql://postgres@127.0.0.1:{closed}/warden"}, 1,
         START + r"store\.url: postgresql://postgres@127\.0\.0\.1:\d+/warden: unreachable after "
         r"\d+ attempts in 1 s \(engine\.startup_budget_s\): .*Connection refused.*", retries=True),
    Case("an unwritable SQLite path", {"store": "sqlite:///{tmp}/a-file/warden.sqlite3"}, 1,
         START + r"store\.url: cannot create the folder .*/a-file: (File exists|Not a directory)",
         prepare=lambda world: (world.tmp / "a-file").write_text("not a folder")),
    Case("the intake's port in use", {"budget": 60, "intake_port": "{taken}"}, 1,
         START + r"intake\.port: cannot listen on 127\.0\.0\.1:\d+: Address already in use"),
    Case("a health host that is not this machine's", {"budget": 60, "health_host": "192.0.2.1"}, 1,
         START + r"health\.host: cannot listen on 192\.0\.2\.1:0: Cannot assign requested address"),
    Case("an intake host that does not resolve", {"budget": 60, "intake_host": "no-such-host.invalid"}, 1,
         START + r"intake\.host: cannot listen on 'no-such-host\.invalid': .*"),
    Case("an unreachable exchange", {}, 1,
         START + r"exchanges\[0\] \(bybit/main\): http://127\.0\.0\.1:\d+: unreachable after \d+ attempts "
         r"in 1 s \(engine\.startup_budget_s\): load_markets: .*Connect call failed.*", retries=True),
    Case("another instance active", {}, 1,
         START + r"another warden instance is active for bybit/main; start it with "
         r"engine\.standby = true .*", prepare=World.hold_the_lock),
    Case("SIGTERM while retrying the exchange", {"budget": 60}, 0,
         STOPPED + r'reaching exchanges\[0\] \(bybit/main\)".*', retries=True,
         sigterm_after='"event": "startup_retry"'),
    Case("SIGTERM while retrying PostgreSQL",
         {"budget": 60, "store": "postgresql://postgres@127.0.0.1:{closed}/warden"}, 0,
         STOPPED + r'reaching the store".*', retries=True, sigterm_after='"event": "startup_retry"'),
    Case("SIGTERM while waiting as a standby", {"budget": 60, "standby": "true"}, 0,
         STOPPED + r'waiting for the instance lock".*',
         retries=True, sigterm_after='"event": "standby"', prepare=World.hold_the_lock),
]


@pytest.fixture
def world(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    found = World(tmp_path, port, taken.getsockname()[1])
    yield found
    taken.close()
    for lock in found.held:
        lock.release()


def run_warden(config: Path, sigterm_after: str | None) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr, and seconds from the SIGTERM (if one was sent) to the exit."""
    process = subprocess.Popen([sys.executable, "-m", "warden", "run", "--config", str(config)], cwd=ROOT,
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sigterm_after is None:
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err, 0.0
    seen = []
    while not seen or sigterm_after not in seen[-1]:
        line = process.stderr.readline()
        assert line, f"warden exited before {sigterm_after!r}: {''.join(seen)}"
        seen.append(line)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    out, err = process.communicate(timeout=30)
    return process.returncode, out, "".join(seen) + err, time.monotonic() - signalled


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_wrong_start_ends_in_one_line_naming_the_cause(world, case):
    case.prepare(world)
    values = {**BASE, **case.fields}
    text = TEMPLATE.format(**values).format(tmp=world.tmp, closed=world.closed, taken=world.taken)
    config = world.tmp / "warden.toml"
    config.write_text(text)

    code, out, err, after_signal = run_warden(config, case.sigterm_after)

    lines = err.splitlines()
    assert code == case.code, err
    assert "Traceback" not in err and CANARY not in err + out
    assert re.fullmatch(case.last_line, lines[-1]), lines[-1]
    assert out == ""  # never ready: no URLs printed, nothing served
    if case.retries:
        logged = [json.loads(line) for line in lines[:-1]]  # each a JSON log line
        assert logged and all(line["level"] in ("warning", "info") for line in logged)
    else:
        assert len(lines) == 1, err  # found before anything was tried: no exchange, no store reached
    if case.sigterm_after:
        assert after_signal < 5.0
