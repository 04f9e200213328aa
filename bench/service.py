"""`warden run` as a process for the engine benchmark: its configuration, start, signals, metrics.

Everything goes through the service's public surfaces: a TOML configuration file and environment
secrets, the JSON line of URLs it prints once ready, signed signals to its intake, ``/metrics``
(Prometheus text) and ``/healthz``, and SIGTERM to stop it. RSS is read from ``/proc``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bench.world import BenchAccount
from warden.adapters.signal_client import signed_headers

INTAKE_SECRET = "bench-intake-secret"
ROOT = Path(__file__).resolve().parents[1]


def config_text(store_url: str, sim_url: str, accounts: Iterable[BenchAccount]) -> str:
    ws = "ws" + sim_url.removeprefix("http")
    exchanges = "".join(f"""
[[exchanges]]
venue = "{a.venue}"
account = "{a.name}"
rest_url = "{sim_url}"
ws_url = "{ws}"
api_key_env = "{a.key_env}"
secret_env = "{a.secret_env}"
""" for a in accounts)
    # The policy keeps positions open for the run: a wide initial stop and callback, trailing from
    # a small profit on, at most one move per position per second (the default).
    return f"""
[store]
url = "{store_url}"
[policy]
initial_stop_percent = "5"
trailing_activation_percent = "0.05"
trailing_callback_percent = "2"
[engine]
startup_budget_s = 600
{exchanges}
[intake]
port = 0
secret_env = "BENCH_INTAKE_SECRET"
rate_per_second = "10000"
rate_burst = 10000
max_connections_per_source = 256
[health]
port = 0
[metrics]
port = 0
"""


class WardenProcess:
    """One ``warden run``; ``start`` returns once it printed its URLs (it is ready)."""

    def __init__(self, store_url: str, sim_url: str, accounts: list[BenchAccount],
                 python_args: list[str] | None = None) -> None:
        self.accounts = accounts
        self.python_args = python_args or []  # e.g. cProfile's, before ``-m warden``
        self._dir = tempfile.TemporaryDirectory(prefix="warden_bench_run_")
        self.config = Path(self._dir.name) / "warden.toml"
        self.config.write_text(config_text(store_url, sim_url, accounts))
        self.log = Path(self._dir.name) / "warden.log"
        self.env = {**os.environ, "BENCH_INTAKE_SECRET": INTAKE_SECRET}
        for a in accounts:
            self.env[a.key_env], self.env[a.secret_env] = a.key, a.secret
        self.process: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}
        self.started_at = self.ready_at = 0.0

    def start(self, timeout: float = 600.0) -> float:
        """Start and wait until ready; the seconds from process start to ready."""
        self.started_at = time.monotonic()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.python_args, "-m", "warden", "run", "--config", str(self.config),
                 "--log-level", "WARNING"], cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                stderr=log, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the URLs, once ready
        self.ready_at = time.monotonic()
        if not line:
            self.process.wait(timeout)
            raise RuntimeError(f"warden run did not start:\n{self.log.read_text()[-3000:]}")
        self.urls = json.loads(line)
        return self.ready_at - self.started_at

    def stop(self, timeout: float = 120.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metrics(self) -> Scrape:
        # 30 s: under cProfile on a loaded machine the service can take over 10 s to answer
        with urllib.request.urlopen(self.urls["metrics"], timeout=30) as answer:
            text = answer.read().decode()
        samples, helps = {}, {}
        for family in text_string_to_metric_families(text):
            samples[family.name] = [(x.name, dict(x.labels), x.value) for x in family.samples]
            helps[family.name] = family.documentation
        return Scrape(samples, helps)

    def signal(self, body: dict[str, object]) -> dict[str, object]:
        data = json.dumps(body).encode()
        headers = signed_headers(SecretStr(INTAKE_SECRET), data)
        request = urllib.request.Request(self.urls["intake"], data=data, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read().decode())


Sample = tuple[str, dict[str, str], float]  # sample name, labels, value


@dataclass(frozen=True)
class Scrape:
    """One read of ``/metrics``: each family's samples and its help text."""

    samples: dict[str, list[Sample]]
    help: dict[str, str]

    def named(self, word: str) -> list[str]:
        """The families whose name contains ``word``."""
        return [name for name in self.samples if word in name]

    def total(self, family: str, **labels: str) -> float:
        """The sum of a family's plain samples (counter totals, gauges) whose labels match."""
        return sum(value for name, have, value in self.samples.get(family, [])
                   if not name.endswith(("_created", "_bucket", "_sum", "_count"))
                   and all(have.get(k) == v for k, v in labels.items()))

    def since(self, before: Scrape, family: str) -> Scrape:
        """``family`` over the time between two scrapes: every sample minus its earlier value."""
        old = {(n, tuple(sorted(lb.items()))): v for n, lb, v in before.samples.get(family, [])}
        return Scrape({family: [(n, lb, v - old.get((n, tuple(sorted(lb.items()))), 0.0))
                                for n, lb, v in self.samples.get(family, [])]}, self.help)

    def quantile(self, family: str, q: float) -> tuple[float, int] | None:
        """The q-quantile of a histogram, interpolated in its bucket as Prometheus does, and the
        count; None when the family is absent or empty."""
        buckets = sorted((float(labels["le"]), value) for name, labels, value in self.samples.get(family, [])
                         if name.endswith("_bucket"))
        if not buckets or buckets[-1][1] == 0:
            return None
        count = buckets[-1][1]
        rank = q * count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return lower_bound, int(count)
                share = (rank - lower_count) / (cumulative - lower_count) if cumulative > lower_count else 1
                return lower_bound + (bound - lower_bound) * share, int(count)
            lower_bound, lower_count = bound, cumulative
        return lower_bound, int(count)
