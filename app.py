"""The composition root and the ``warden`` command line.

Everything is built here from configuration and handed to the pieces that need it; no other
module constructs adapters on its own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import click

from warden.adapters.eventlog import EventLogError, ImportResult, export_log, import_log
from warden.adapters.progress import MIN_BYTES, file_size, track
from warden.adapters.store import (
    DEFAULT_STORE_URL,
    StoreConfigError,
    UnknownAggregate,
    WardenStore,
    open_store,
    resolve_id,
)
from warden.projections.timeline import build_timeline

STORE_HELP = (f"Event store URL: memory://, sqlite:///PATH or postgresql://USER@HOST:PORT/DB. "
              f"Default: $WARDEN_STORE or {DEFAULT_STORE_URL}.")


def _store(url: str | None) -> WardenStore:
    try:
        return open_store(url or os.environ.get("WARDEN_STORE") or DEFAULT_STORE_URL)
    except StoreConfigError as e:
        raise click.UsageError(str(e)) from None


class _LazyGroup(click.Group):
    """A group whose heavy subcommands (``sim``, ``signal``) are imported only when one is run or
    listed by ``--help``: the pattern of click's "Lazily Loading Subcommands" guide, so a quick
    command such as ``warden events tail`` does not pay for aiohttp and the simulator."""

    LAZY = {"sim": "warden.sim.cli:sim_command",
            "signal": "warden.adapters.signal_client:signal_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            import importlib

            module, name = self.LAZY[cmd_name].split(":")
            return getattr(importlib.import_module(module), name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
def main() -> None:
    """warden guards every position a trading bot opens on Bybit and Binance USD-M futures."""


@main.command()
@click.option("--store", "store_url", default="sqlite:///var/demo.sqlite3", show_default=True,
              help="Where the demo writes its events (recreated on every run).")
@click.option("--speed", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Multiplier for the script's pauses: 2 runs them twice as fast.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the simulator's random walk and the scripted price paths' jitter.")
def demo(store_url: str, speed: float, seed: int) -> None:
    """Run the engine and the service against the simulated Bybit and Binance, scripted.

    The seed incident (no fill price, a precision rejection), a phantom, a websocket outage, a
    trailing stop, an aged exit and a Binance short; every timeline and a final table are printed,
    and the exit code is non-zero if a lifecycle invariant was violated (docs/demo.md).

    \b
    Example:
      warden demo
      warden replay <id printed by the demo> --store sqlite:///var/demo.sqlite3
    """
    import asyncio

    from warden.runtime.demo import run_demo

    if store_url.startswith("sqlite:///") and not store_url.endswith(":memory:"):
        Path(store_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    violations = asyncio.run(run_demo(_store(store_url), store_url, click.echo, seed=seed, speed=speed))
    if violations:
        for violation in violations:
            click.echo(f"INVARIANT VIOLATED: {violation}", err=True)
        sys.exit(1)


@main.command()
@click.argument("position_id")
@click.option("--log", "log_file", type=click.File("rb"),
              help="Replay from an exported JSONL event log instead of a store.")
@click.option("--store", "store_url", help=STORE_HELP)
@click.option("--at", "until", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
                                                     "%Y-%m-%dT%H:%M:%S.%f%z"]),
              help="Stop at this time (ISO 8601; no offset means UTC).")
@click.option("--version", "version", type=click.IntRange(min=1), help="Stop after this event version.")
@click.option("--raw", is_flag=True, help="Also print the venue payloads each event stores, as JSON.")
def replay(position_id: str, log_file, store_url: str | None, until: datetime | None,
           version: int | None, raw: bool) -> None:
    """Print a position's timeline and its state at a point.

    Each event is one line of its fields, with under it what it says (a refused fill and what the
    venue answered, the source of the fill price, a rejected stop's code and words...).
    POSITION_ID is the full id or a unique prefix of at least 6 hex digits.

    \b
    Examples:
      warden replay 3f2a9c --store sqlite:///var/demo.sqlite3
      warden replay 3f2a9c --log last-night.jsonl --at 2026-03-01T12:05:00Z
      warden replay 3f2a9c --version 4 --raw
    """
    store = _open_log(log_file, store_url)
    try:
        aggregate_id = resolve_id(store, position_id)
    except UnknownAggregate as e:
        raise click.ClickException(str(e)) from None
    if until is not None and until.tzinfo is None:
        from datetime import UTC
        until = until.replace(tzinfo=UTC)
    history = store.history(aggregate_id)
    timeline = build_timeline(track(history, total=len(history), description="replaying"),
                              until=until, version=version)
    if not timeline.rows:
        raise click.ClickException(f"{aggregate_id} has no events at or before {until}")
    from warden.projections.narrative import describe

    click.echo(f"{aggregate_id}\n{timeline.render(says=describe, raw=raw)}\n\n"
               f"state after version {timeline.rows[-1].version}:")
    click.echo(timeline.render_state())


def _open_log(log_file, store_url: str | None) -> WardenStore:
    """The store to read: ``store_url``'s, or an in-memory one holding the JSONL file ``log_file``."""
    if log_file and store_url:
        raise click.UsageError("give either --log or --store, not both")
    store = _store("memory://" if log_file else store_url)
    if log_file:
        try:
            _import(store, log_file)
        except EventLogError as e:
            raise click.ClickException(f"{log_file.name}: {e}") from None
    return store


def _import(store: WardenStore, log_file: Any) -> ImportResult:
    """Import an event log opened in binary (a bar on a terminal while a big file is read)."""
    progress = partial(track, total=file_size(log_file), description="importing", weight=len,
                       min_total=MIN_BYTES, in_bytes=True)
    return import_log(store, log_file, track=progress)


def _recorded(log_file, store_url: str | None):
    """The whole log, sorted for looking back (projections/recorded.py)."""
    from warden.projections.recorded import read_recorded

    store = _open_log(log_file, store_url)
    events = track(store.all_events(), total=store.recorder.max_notification_id(), description="reading")
    return read_recorded(events)


def _positions(log, refs: tuple[str, ...]):
    from warden.projections.recorded import UnknownPosition

    try:
        return log.select(refs)
    except UnknownPosition as e:
        raise click.ClickException(str(e)) from None


def _source(log_file, store_url: str | None) -> str:
    return log_file.name if log_file else _store(store_url).config.display


LOG_HELP = "Read an exported JSONL event log instead of a store."


@main.command()
@click.argument("refs", nargs=-1, metavar="[POSITION]...")
@click.option("--log", "log_file", type=click.File("rb"), help=LOG_HELP)
@click.option("--store", "store_url", help=STORE_HELP)
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False), default="report.html",
              show_default=True, help="The HTML file to write.")
def report(refs: tuple[str, ...], log_file, store_url: str | None, out: str) -> None:
    """Write a self-contained HTML report (it opens offline) of positions in a log.

    Per position: the price over time, the entry, the stop as a step line with every move, the
    liquidation price where the venue reported one, markers for fills, refused fills and
    rejections, phantoms, snapshots and rejected frames, trailing and aged steps and the close
    (details on hover), and the table of its decisions. POSITION is an id or a unique prefix;
    give several, or none for every position in the log.

    \b
    Examples:
      warden report --log examples/trailing-stop.jsonl -o trailing.html
      warden report 3f2a9c 77b01e --store sqlite:///var/demo.sqlite3
    """
    from warden.projections.chart import chart_for
    from warden.projections.report import render_report

    log = _recorded(log_file, store_url)
    charts = [chart_for(position, log) for position in _positions(log, refs)]
    source = _source(log_file, store_url)
    page = render_report(charts, title=f"warden report: {source}",
                         notes=[f"{len(charts)} position(s); times in UTC; hover a point for its details."])
    Path(out).write_text(page, encoding="utf8")
    click.echo(f"wrote {out} ({len(charts)} position(s))")


def _policy(policy_file: str | None, settings: tuple[str, ...]):
    """The base policy and the what-if one (the base with ``--set`` applied), and what changed."""
    from warden.adapters.config import ConfigError, load_policy_settings

    overrides = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--set {setting!r}: expected KEY=VALUE")
        overrides[key.strip()] = value.strip()
    try:
        base = load_policy_settings(policy_file, {})
        changed = load_policy_settings(policy_file, overrides)
    except ConfigError as e:
        raise click.ClickException(f"invalid policy: {e}") from None
    changes = [f"{name} {_show(getattr(base, name))} -> {_show(getattr(changed, name))}"
               for name in type(base).model_fields if getattr(base, name) != getattr(changed, name)]
    return changed, changes


def _show(value) -> str:
    from warden.projections.timeline import show

    return show(value) if not isinstance(value, tuple) else f"[{len(value)} phases]"


@main.command()
@click.argument("refs", nargs=-1, metavar="[POSITION]...")
@click.option("--log", "log_file", type=click.File("rb"), help=LOG_HELP)
@click.option("--store", "store_url", help=STORE_HELP)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Replace one policy parameter (a key of [policy], docs/configuration.md); repeatable.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A TOML file whose [policy] table is the base (warden.toml works). Default: built-in.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Also write the report with the what-if stop trail over the recorded one.")
def whatif(refs: tuple[str, ...], log_file, store_url: str | None, settings: tuple[str, ...],
           policy_file: str | None, html_file: str | None) -> None:
    """Run a log's recorded prices and fills through the policies with other parameters.

    Prints per position and in total, recorded against what-if: stop moves, exit price and
    reason, PnL, and the first decision that differs. No exchange is involved: stops are placed
    as asked and a stop hit fills at the stop price (limits: docs/debugging.md). POSITION is an
    id or a unique prefix; none means every position that was filled.

    \b
    Examples:
      warden whatif --log last-night.jsonl --policy warden.toml --set trailing_callback_percent=0.3
      warden whatif 3f2a9c --store sqlite:///var/demo.sqlite3 --set aged_max_age_seconds=7200 --html w.html
    """
    from warden.adapters.config import policy_config
    from warden.projections.whatif import compare
    from warden.projections.whatif_render import render_text

    policy, changes = _policy(policy_file, settings)
    log = _recorded(log_file, store_url)
    chosen = _positions(log, refs)
    if not refs:
        chosen = [p for p in chosen if any(type(e).__name__ in ("EntryFilled", "PositionAdopted")
                                           for e in p.history)]
    comparisons = [compare(position, log, policy_config(policy)) for position in chosen]
    click.echo(render_text(comparisons, changes))
    if html_file:
        from warden.projections.chart import chart_for
        from warden.projections.report import render_report
        from warden.projections.whatif_render import with_whatif

        charts = [with_whatif(chart_for(c.position, log), c, changes) for c in comparisons]
        title = f"warden whatif: {_source(log_file, store_url)}"
        Path(html_file).write_text(render_report(charts, title=title, notes=changes), encoding="utf8")
        click.echo(f"wrote {html_file}")


@main.group()
def events() -> None:
    """Export, import and follow the event log (versioned JSON Lines, docs/event-log.md)."""


@events.command("export")
@click.option("--store", "store_url", help=STORE_HELP)
def export_command(store_url: str | None) -> None:
    """Write the whole event log to stdout, with a trailer (count and checksum) as its last line.

    \b
    Example:
      warden events export --store postgresql://postgres@127.0.0.1/warden > log.jsonl
    """
    store = _store(store_url)
    progress = partial(track, total=store.recorder.max_notification_id(), description="exporting")
    count = export_log(store, sys.stdout, track=progress)
    click.echo(f"exported {count} events", err=True)


@events.command("import")
@click.argument("log_file", type=click.File("rb"))
@click.option("--store", "store_url", help=STORE_HELP)
def import_command(log_file, store_url: str | None) -> None:
    """Append every event of LOG_FILE to an (empty) store, after checking all of it.

    A file cut short or altered since its export (the trailer's count or checksum disagrees), a
    line that is not UTF-8 or JSON, or a gap in an aggregate's versions imports nothing.

    \b
    Example:
      warden events import log.jsonl --store sqlite:///var/debug.sqlite3
    """
    try:
        result = _import(_store(store_url), log_file)
    except EventLogError as e:
        raise click.ClickException(f"{log_file.name}: {e}") from None
    click.echo(f"imported {result.events} events of {result.aggregates} aggregates "
               f"({result.snapshots} snapshots taken)")
    if result.version < 2:
        click.echo(f"{log_file.name} is a version {result.version} log: it has no trailer, so whether "
                   f"it is complete could not be checked", err=True)


@events.command("tail")
@click.option("--store", "store_url", help=STORE_HELP)
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they are recorded (Ctrl-C ends).")
@click.option("--lines", "-n", "last", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the newest events to print first.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True,
              help="Seconds between two looks at the store while following.")
def tail_command(store_url: str | None, follow: bool, last: int, interval: float) -> None:
    """Print the newest events, one line each; with --follow, every new one as it is recorded.

    Works on a store another process writes (SQLite or PostgreSQL; not memory://). A line:
    notification id, time, event, aggregate id (8 hex: what `warden replay` takes), version, fields.

    \b
    Examples:
      warden events tail --store sqlite:///var/warden.sqlite3
      warden events tail -f -n 0 --store postgresql://postgres@127.0.0.1/warden
    """
    from warden.adapters.tail import tail

    url = store_url or os.environ.get("WARDEN_STORE") or DEFAULT_STORE_URL
    if url.startswith("memory"):
        raise click.UsageError("a memory:// store lives inside the process that made it and cannot be "
                               "tailed: give sqlite:///PATH or postgresql://...")
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path and path != ":memory:" and not Path(path).exists():
        raise click.UsageError(f"no SQLite store at {path}")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow ends: quietly
        tail(_store(url), last=last, follow=follow, interval=interval, echo=click.echo)


CONFIG_HELP = "TOML configuration (docs/configuration.md). Default: $WARDEN_CONFIG, else built-in defaults."
EXIT_INVALID_CONFIG, EXIT_CANNOT_START = 2, 1


class Refused(click.ClickException):
    """`warden run` cannot go on: one line on stderr, and the exit code says which kind."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _config(path: str | None):
    from warden.adapters.config import ConfigError, load_config

    try:
        return load_config(path or os.environ.get("WARDEN_CONFIG"), os.environ)
    except ConfigError as e:
        raise Refused(f"invalid configuration: {e}", EXIT_INVALID_CONFIG) from None


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def run(config_path: str | None, log_level: str) -> None:
    """Run warden as a service until SIGTERM/SIGINT.

    Checks that it can listen on every configured address and reach the store and every exchange,
    takes the instance lock of every configured account, reconciles them, resumes unfinished
    intents, then accepts signed signals on the intake and serves /healthz and /metrics. Logs are
    JSON lines on stderr; one JSON line with the URLs is printed on stdout once ready. When it
    cannot start, the last line on stderr says why and the exit code is 2 (invalid configuration)
    or 1 (docs/configuration.md, "When warden cannot start").

    \b
    Example:
      BYBIT_API_KEY=... BYBIT_API_SECRET=... WARDEN_INTAKE_SECRET=... \\
        warden run --config warden.toml
    """
    import asyncio
    import json
    import logging

    from warden.adapters.instance_lock import LockHeld, LockLost
    from warden.adapters.logs import configure_logging, redact, secret_forms
    from warden.adapters.startup import StartupError, one_line
    from warden.runtime.run import run_until_signalled, secrets_of

    config = _config(config_path)
    secrets = secrets_of(config)
    configure_logging(log_level, secrets)
    try:
        asyncio.run(run_until_signalled(config, ready=lambda urls: click.echo(json.dumps(urls), nl=True)))
    except (StartupError, LockHeld) as e:
        raise Refused(f"cannot start: {redact(str(e), secret_forms(secrets))}", EXIT_CANNOT_START) from None
    except LockLost as e:  # a supervisor restarts it: it waits as a standby (engine.standby = true)
        raise Refused(f"stopped: {e}", EXIT_CANNOT_START) from None
    except Exception as e:  # a defect: its traceback goes to the log, the cause to the last line
        logging.getLogger("warden.run").exception("warden failed")
        raise Refused(redact(f"failed: {type(e).__name__}: {one_line(e)}", secret_forms(secrets)),
                      EXIT_CANNOT_START) from None


def _view(store_url: str | None):
    from warden.adapters.readmodel_sql import open_readmodel
    from warden.projections.positions_view import PositionsView
    from warden.projections.runner import ProjectionConflict, ProjectionRunner

    store = _store(store_url)
    url = store_url or os.environ.get("WARDEN_STORE") or DEFAULT_STORE_URL
    db = open_readmodel(url)
    runner = ProjectionRunner(store, db, PositionsView(store))
    runner.setup()
    with contextlib.suppress(ProjectionConflict):  # a running service is projecting: rows are current
        runner.catch_up()
    return db


@main.command()
@click.option("--store", "store_url", help=STORE_HELP)
def status(store_url: str | None) -> None:
    """Positions by status, and the open ones.

    \b
    Example:
      warden status --store postgresql://postgres@127.0.0.1/warden
    """
    from datetime import UTC

    from warden.projections.positions_view import open_positions, status_counts
    from warden.projections.status_table import render_counts, render_positions

    db = _view(store_url)
    click.echo(render_counts(status_counts(db)))
    click.echo(render_positions(open_positions(db), datetime.now(UTC)))


@main.command()
@click.option("--store", "store_url", help=STORE_HELP)
@click.option("--all", "everything", is_flag=True, help="Closed positions too.")
def positions(store_url: str | None, everything: bool) -> None:
    """A table of positions: status, entry, stop, mark, PnL, age, what each waits for.

    \b
    Example:
      warden positions --all --store sqlite:///var/warden.sqlite3
    """
    from datetime import UTC

    from warden.projections.positions_view import all_positions, open_positions
    from warden.projections.status_table import render_positions

    db = _view(store_url)
    rows = all_positions(db) if everything else open_positions(db)
    click.echo(render_positions(rows, datetime.now(UTC)))


if __name__ == "__main__":
    main()
