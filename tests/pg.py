"""Find a PostgreSQL server for the tests, or start a throwaway one.

Order: ``WARDEN_TEST_PG`` (a libpq URL of a server whose user may create databases), then the
usual local server on 127.0.0.1:5432 (user postgres, trust auth), then a throwaway cluster made with
the local ``initdb``/``pg_ctl`` in a temp directory (run as the ``postgres`` user when we are root).
If all three fail the tests that need PostgreSQL fail with a message that says what was tried:
they are never skipped.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    password: str = ""
    cluster_dir: str | None = None  # set when we started it
    bindir: str | None = None

    def url(self, dbname: str) -> str:
        auth = f"{self.user}:{self.password}" if self.password else self.user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=3)

    @contextlib.contextmanager
    def database(self, prefix: str = "warden_test") -> Iterator[str]:
        """A fresh database for one test, dropped afterwards; yields its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            with self.admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reachable(server: PgServer) -> str | None:
    try:
        with server.admin() as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # any failure means "not this one"
        return f"{server.url('postgres')}: {str(e).strip().splitlines()[0] if str(e) else e!r}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_ctl(server: PgServer, *args: str) -> None:
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_user, f"{server.bindir}/pg_ctl", "-D", server.cluster_dir or "", *args],
                   check=True, capture_output=True)


def pause(server: PgServer) -> None:
    """Stop a throwaway cluster as an outage would (``-m fast``: sessions are cut), keeping its data."""
    if server.cluster_dir is None:
        raise RuntimeError("only a throwaway cluster may be stopped, never a shared server")
    _pg_ctl(server, "-m", "fast", "-w", "stop")


def resume(server: PgServer) -> None:
    """Start a cluster `pause` stopped, on the same port, and wait until it accepts connections."""
    _pg_ctl(server, "-l", f"{server.cluster_dir}/log", "-w", "-o", _options(server), "start")


def _options(server: PgServer) -> str:
    return (f"-p {server.port} -k {server.cluster_dir} -c listen_addresses=127.0.0.1 -c fsync=off")


def private_cluster() -> PgServer:
    """A throwaway cluster of one's own (tests that stop and start the server), never the shared one."""
    server = _start_throwaway()
    for _ in range(50):
        if _reachable(server) is None:
            return server
        time.sleep(0.1)
    stop(server)
    raise RuntimeError("a throwaway PostgreSQL cluster started but did not answer")


def _start_throwaway() -> PgServer:
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb") or next((f"{d}/initdb" for d in bindirs), None)
    if not initdb or not os.path.exists(initdb):
        raise RuntimeError("no initdb found (install PostgreSQL server binaries)")
    bindir = os.path.dirname(initdb)
    datadir = tempfile.mkdtemp(prefix="warden-pg-")
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        pwd.getpwnam("postgres")
        shutil.chown(datadir, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(f"{bindir}/initdb", "-D", datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    server = PgServer("127.0.0.1", port, "postgres", cluster_dir=datadir, bindir=bindir)
    run(f"{bindir}/pg_ctl", "-D", datadir, "-l", f"{datadir}/log", "-w", "-o", _options(server), "start")
    return server


def stop(server: PgServer) -> None:
    if server.cluster_dir:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        pg_ctl = f"{server.bindir}/pg_ctl"
        subprocess.run([*as_user, pg_ctl, "-D", server.cluster_dir, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(server.cluster_dir, ignore_errors=True)


def find_or_start() -> PgServer:
    tried = []
    candidates = []
    if os.environ.get("WARDEN_TEST_PG"):
        from urllib.parse import urlsplit
        parts = urlsplit(os.environ["WARDEN_TEST_PG"])
        candidates.append(PgServer(parts.hostname or "127.0.0.1", parts.port or 5432,
                                   parts.username or "postgres", parts.password or ""))
    candidates.append(PgServer("127.0.0.1", 5432, "postgres"))
    for candidate in candidates:
        problem = _reachable(candidate)
        if problem is None:
            return candidate
        tried.append(problem)
    try:
        server = _start_throwaway()
        for _ in range(50):
            if _reachable(server) is None:
                return server
            time.sleep(0.1)
        tried.append("throwaway cluster started but not reachable")
    except Exception as e:
        tried.append(f"throwaway cluster with initdb/pg_ctl: {e}")
    raise RuntimeError("PostgreSQL is required by these tests and none could be found or started. "
                       "Tried:\n  " + "\n  ".join(tried) +
                       "\nSet WARDEN_TEST_PG=postgresql://user@host:port/postgres to point at one.")
