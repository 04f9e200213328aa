"""The randomized fault soak: run seeded scenarios against `warden run`, check each, summarize.

`run_soak(count, seed)` runs scenarios ``seed, seed+1, ...``; each one gets a fresh simulator and
database, its timeline of signals, price moves, faults, SIGKILLs and PostgreSQL outages, a settle
phase (faults cleared, the service back, signals nobody answered sent again as a bot would), and
the checks of `tests.soak.checks`. `python -m tests.soak.harness --scenarios N --seed S` runs it
outside pytest. docs/soak.md describes what is checked.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.soak.checks import Violation, check_scenario
from tests.soak.scenario import PHANTOM, START_PRICE, Scenario, Step, draw
from tests.soak.world import RECONCILE_S, Cluster, Warden, write_config
from warden.sim.server import SimulatorThread

SETTLE_TIMEOUT_S = 60.0
FEED_GRACE_S = 5.0


@dataclass
class Outcome:
    seed: int
    faults: list[str]
    violations: list[Violation]
    worst_naked_ms: int | None      # the longest any position was without a stop (any kind)
    worst_naked_at: str = ""
    activity: Counter[str] = field(default_factory=Counter)
    answers: dict[str, list[int | None]] = field(default_factory=dict)  # the intake's, per signal
    elapsed_s: float = 0.0
    log: Path | None = None


@dataclass
class Run:
    """What one scenario did, for the checks: the service, the signals and when things were down."""
    scenario: Scenario
    sim: SimulatorThread
    warden: Warden
    cluster: Cluster
    database: str
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, list[int | None]] = field(default_factory=dict)
    pg_down: list[tuple[float, float]] = field(default_factory=list)
    exit_code: int | None = None
    final_health: dict[str, Any] | None = None
    healthy_at: float | None = None  # when /healthz first said ok in the settle (monotonic)
    settle_timeout_s: float = SETTLE_TIMEOUT_S
    snapshot_mono: float = 0.0       # when the checks read the venue (monotonic clock)

    @property
    def store_url(self) -> str:
        return self.cluster.server.url(self.database)

    def outages(self) -> list[tuple[float, float]]:
        """Intervals (monotonic) when warden could not act: no process, or no database."""
        return self.warden.downtime + self.pg_down


@dataclass
class Prepared:
    """A fresh simulator and database with `warden run` starting against them."""
    seed: int
    sim: SimulatorThread
    database: str
    warden: Warden


def prepare(cluster: Cluster, seed: int, workdir: Path) -> Prepared:
    """The next scenario's world, started while the current one settles (a start costs ~2 s)."""
    sim = SimulatorThread(seed=seed).start()
    for symbol, price in START_PRICE.items():
        sim.control.set_price(symbol, price)
    database = cluster.create_database()
    config = write_config(workdir / f"warden-{seed}.toml", cluster.server.url(database),
                          sim.sim.urls()["bybit"]["rest"])
    warden = Warden(config, workdir / f"warden-{seed}.log")
    warden.start()
    return Prepared(seed, sim, database, warden)


def run_scenario(cluster: Cluster, world: Prepared, *,
                 on_settle: Callable[[], None] = lambda: None) -> Outcome:
    """Play the scenario of ``world.seed`` in ``world``, settle, stop warden and check."""
    began = time.monotonic()
    scenario = draw(world.seed)
    run = Run(scenario, world.sim, world.warden, cluster, world.database)
    warden = world.warden
    try:
        if not warden.wait_ready(60):
            on_settle()
            return Outcome(world.seed, scenario.faults(),
                           [Violation(world.seed, "start", "warden run did not start")], None,
                           log=warden.log)
        _play(run)
        _settle(run, on_settle)
        run.final_health = _final_health(run)
        run.exit_code = warden.stop()
        run.snapshot_mono = time.monotonic()
        violations, naked, activity = check_scenario(run)
        worst = max(naked, key=lambda g: g["duration_ms"], default=None)
        return Outcome(world.seed, scenario.faults(), violations, worst["duration_ms"] if worst else None,
                       f"{worst['account']}/{worst['symbol']} {worst['kind']}" if worst else "",
                       activity, run.answers, time.monotonic() - began, warden.log)
    finally:
        warden.stop()
        world.sim.stop()
        try:
            if run.pg_down and run.pg_down[-1][1] == 0.0:
                cluster.start()
            cluster.drop_database(world.database)
        except Exception:  # a database left behind goes with the cluster
            pass


def _play(run: Run) -> None:
    """Play the timeline: each step at its time after the start, plus what steps schedule (a
    restart after a kill, the clearing of a standing push fault)."""
    control, pool = run.sim.control, ThreadPoolExecutor(8, thread_name_prefix="soak-signal")
    start = time.monotonic()
    order = itertools.count()
    queue: list[tuple[float, int, Step]] = [(s.at_s, next(order), s) for s in run.scenario.steps]
    heapq.heapify(queue)
    posts: list[Future[None]] = []
    while queue:
        at, _, step = heapq.heappop(queue)
        time.sleep(max(0.0, start + at - time.monotonic()))
        a = step.args
        if step.action in ("signal", "resend"):
            payload = run.signals.setdefault(a["signal_id"], {k: v for k, v in a.items()})
            posts.append(pool.submit(_post, run, payload))
        elif step.action == "price":
            control.set_price(a["symbol"], a["price"])
        elif step.action == "venue_model":
            if "latency_ms" in a:
                control.set_latency(a["latency_ms"], a["jitter_ms"])
            if "partial_fills" in a:
                control.set_partial_fills(a["partial_fills"])
        elif step.action == "fault":
            options = {k: v for k, v in a.items() if k not in ("kind", "clear_after_s")}
            control.inject(a["kind"], **options)
            if "clear_after_s" in a:
                heapq.heappush(queue, (at + a["clear_after_s"], next(order),
                                       Step(at, "clear", {"kind": a["kind"], "venue": a["venue"]})))
        elif step.action == "clear":
            control.clear_faults(a["kind"], a["venue"])
        elif step.action == "drop_ws":
            control.drop_websockets(a["venue"], a["abrupt"])
        elif step.action == "expire_key":
            control.expire_listen_key("binance", a["close"])
        elif step.action == "manual_close":
            control.close_position(a["account"], a["symbol"])
        elif step.action == "phantom":
            control.open_position(a["account"], PHANTOM[0], a["side"], PHANTOM[1])
        elif step.action == "kill":
            run.warden.kill()
            heapq.heappush(queue, (at + a["down_s"], next(order), Step(at, "restart")))
        elif step.action == "restart":
            run.warden.start()
        elif step.action == "pg_stop":
            run.cluster.stop(a["mode"])
            run.pg_down.append((time.monotonic(), 0.0))
        elif step.action == "pg_start":
            run.cluster.start()
            run.pg_down[-1] = (run.pg_down[-1][0], time.monotonic())
    for post in posts:
        post.result()
    pool.shutdown()


def _post(run: Run, payload: dict[str, Any]) -> None:
    run.answers.setdefault(payload["signal_id"], []).append(run.warden.post_signal(payload))


def _settle(run: Run, on_settle: Callable[[], None]) -> None:
    """Faults cleared and everything back; signals nobody answered sent again; then wait until
    warden is healthy with nothing pending, and one reconcile interval more."""
    run.sim.control.clear_faults()
    if run.pg_down and run.pg_down[-1][1] == 0.0:
        run.cluster.start()
        run.pg_down[-1] = (run.pg_down[-1][0], time.monotonic())
    if run.warden.process is None or run.warden.process.poll() is not None:
        run.warden.start()
    on_settle()
    run.warden.wait_ready(60)
    for sid, statuses in run.answers.items():
        if statuses and all(s is None or s >= 500 for s in statuses):
            _post(run, run.signals[sid])
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        health = run.warden.health()
        if health and health.get("ok") and health.get("pending_intents") == 0:
            run.healthy_at = time.monotonic()
            break
        time.sleep(0.2)
    time.sleep(RECONCILE_S + 0.3)  # one reconcile interval more
    if run.healthy_at is not None:
        _two_reconciles_since(run, run.healthy_at, deadline)


def _two_reconciles_since(run: Run, since: float, deadline: float) -> None:
    """Wait until every account has completed two reconciles after ``since``. The service's tick
    runs an account's snapshot and then its stop check; the second snapshot starts only after the
    first one's check is done, so the checks read a venue warden has looked at, and acted on,
    since the faults were cleared. A blind interval was not that under load: a tick delayed by
    the machine left a ghost or a stop landed late from a hung request unseen (seeds 9106, 20673).
    Waits at most until ``deadline``; a reconcile that never comes is the health check's to find."""
    seen: dict[str, list[float]] = {}
    while time.monotonic() < deadline:
        now, health = time.monotonic(), run.warden.health() or {}
        for account, age in (health.get("last_reconcile_age_s") or {}).items():
            done = now - age  # ages come rounded to 0.1 s: one reconcile reads as a few times
            times = seen.setdefault(account, [])
            if done > since and all(abs(done - t) > RECONCILE_S / 2 for t in times):
                times.append(done)
        if seen and len(seen) == len(health.get("last_reconcile_age_s") or {}) and \
                all(len(times) >= 2 for times in seen.values()):
            return
        time.sleep(0.1)


def _final_health(run: Run, within_s: float = FEED_GRACE_S) -> dict[str, Any] | None:
    """/healthz once every feed is connected, or as it is after ``within_s``. The simulator pushes
    a ticker only when a price changes, where the venues also push on subscribing and every
    100 ms (Bybit) or second (Binance): each symbol's price is set again, unchanged, meanwhile, so
    a mark-price feed that (re)subscribed in a still market hears its first tick."""
    deadline = time.monotonic() + within_s
    while True:
        for symbol in START_PRICE:
            run.sim.control.set_price(symbol, run.sim.control.price(symbol))
        time.sleep(0.2)
        health = run.warden.health()
        connected = health is not None and all(f.get("state") == "connected"
                                                for f in health.get("feeds", {}).values())
        if connected or time.monotonic() > deadline:
            return health


@dataclass
class Summary:
    outcomes: list[Outcome]
    elapsed_s: float

    @property
    def violations(self) -> list[Violation]:
        return [v for o in self.outcomes for v in o.violations]

    def render(self) -> str:
        faults = Counter(f for o in self.outcomes for f in o.faults)
        activity = sum((o.activity for o in self.outcomes), Counter())
        worst = max((o for o in self.outcomes if o.worst_naked_ms is not None),
                    key=lambda o: o.worst_naked_ms or 0, default=None)
        lines = [f"soak: {len(self.outcomes)} scenarios in {self.elapsed_s:.0f} s, "
                 f"{len(self.violations)} violations",
                 "faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"),
                 "on the venue: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                              for k, v in sorted(activity.items())),
                 "worst unprotected time: " + (f"{worst.worst_naked_ms} ms ({worst.worst_naked_at}, "
                                               f"seed {worst.seed})" if worst else "none")]
        lines += [f"VIOLATION seed {v.seed} [{v.check}] {v.detail}  (make soak SOAK_SEED={v.seed} "
                  f"SOAK_SCENARIOS=1)" for v in self.violations]
        return "\n".join(lines)


def run_soak(count: int, seed: int, *, progress: Callable[[Outcome], None] | None = None) -> Summary:
    """Scenarios ``seed`` .. ``seed + count - 1``, one after the other, on one private cluster."""
    began = time.monotonic()
    cluster = Cluster()
    workdir = Path(tempfile.mkdtemp(prefix="warden-soak-"))
    outcomes: list[Outcome] = []
    upcoming: list[Prepared] = []
    try:
        upcoming.append(prepare(cluster, seed, workdir))
        for n in range(count):
            world = upcoming.pop()
            more = n + 1 < count
            outcome = run_scenario(cluster, world, on_settle=lambda more=more, n=n: (
                upcoming.append(prepare(cluster, seed + n + 1, workdir)) if more else None))
            outcomes.append(outcome)
            if progress:
                progress(outcome)
            if not outcome.violations and outcome.log:
                outcome.log.unlink(missing_ok=True)
    finally:
        for world in upcoming:
            world.warden.stop()
            world.sim.stop()
        cluster.remove()
        if not any(o.violations for o in outcomes):
            shutil.rmtree(workdir, ignore_errors=True)
    return Summary(outcomes, time.monotonic() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    done: list[Outcome] = []
    began = time.monotonic()

    def stop(*_: object) -> None:
        """SIGTERM: the summary of the scenarios done, then out through the finally blocks
        (warden stopped, the cluster removed)."""
        print(Summary(done, time.monotonic() - began).render() + "\n(stopped by SIGTERM)", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)

    def progress(o: Outcome) -> None:
        done.append(o)
        mark = "ok" if not o.violations else f"{len(o.violations)} VIOLATIONS (log {o.log})"
        print(f"seed {o.seed}: {o.elapsed_s:4.1f} s {mark}  faults: {', '.join(o.faults) or '-'}",
              flush=True)
        for v in o.violations:
            print(f"  [{v.check}] {v.detail}", flush=True)
        if o.violations:
            print(f"  intake answers: {o.answers}", flush=True)

    summary = run_soak(args.scenarios, args.seed, progress=progress)
    print(summary.render())
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
