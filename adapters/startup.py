"""What ``warden run`` makes sure of before anything trades; each failure is a `StartupError`, one
line that names its cause (and the key to fix, where there is one).

- `listen`: every configured address is bound at once, before the store or an exchange is
  touched, so a port in use or a host that is not this machine's fails in milliseconds. The bound
  sockets are what the intake and the operator endpoints later serve on: nothing can take them
  while the engine starts.
- `reach_store`: a SQLite file that can be created and written, or a PostgreSQL server that
  answers; `reach_exchange`: an exchange that answers (its markets are what the engine loads
  first). Unreachable ones are retried, each failure logged, until the startup `Budget` is spent.

Blocking calls run in daemon threads (`in_thread`, adapters/threads.py) so the event loop, and
with it SIGTERM, is never stuck behind a connection attempt.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from warden.adapters.store import StoreConfig, StoreConfigError
from warden.adapters.threads import in_thread
from warden.domain.instrument import Instrument
from warden.engine.errors import Rejected, Retryable, UnknownOutcome
from warden.engine.ports import ExchangePort

log = logging.getLogger("warden.startup")
T = TypeVar("T")
MAX_RETRY_DELAY_S = 5.0


class StartupError(RuntimeError):
    """warden cannot start; the message is one line naming the cause."""


def one_line(error: BaseException | str, limit: int = 300) -> str:
    """The error on one line, with its root cause when that says more (a refused connection
    under an exchange library's "not available")."""
    text = str(error) or type(error).__name__
    root = error
    while isinstance(root, BaseException) and root.__cause__ is not None:
        root = root.__cause__
    if root is not error and str(root) and str(root) not in text:
        text += f" ({type(root).__name__}: {root})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Budget:
    """How long startup keeps retrying what it cannot reach (``engine.startup_budget_s``)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.started = clock()

    def restart(self) -> None:
        """Waiting as a standby is not starting: the budget counts again from here."""
        self.started = self.clock()

    def spent(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        return self.seconds - self.spent()


async def retry(what: str, attempt: Callable[[], Awaitable[T]], budget: Budget,
                retryable: tuple[type[BaseException], ...]) -> T:
    """``attempt()`` until it succeeds, logging each failure, while the budget lasts."""
    delay, tries = 0.5, 0
    while True:
        tries += 1
        try:
            return await attempt()
        except retryable as e:
            left = budget.left()
            if left <= 0:
                spent = f"{tries} attempts in {budget.spent():.0f} s (engine.startup_budget_s)"
                raise StartupError(f"{what}: unreachable after {spent}: {one_line(e)}") from None
            wait = min(delay, left)
            log.warning("%s: unreachable (%s); retrying in %.1f s, %.0f s left of the startup budget",
                        what, one_line(e), wait, left, extra={"event": "startup_retry"})
            await asyncio.sleep(wait)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)


# ----- addresses ----------------------------------------------------------------------------------
def listen(key: str, host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` resolves to (``key``: the config section)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise StartupError(f"{key}.host: cannot listen on {host!r}: {e.strerror}") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError as e:
        for sock in bound:
            sock.close()
        which = "host" if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) else "port"
        raise StartupError(f"{key}.{which}: cannot listen on {host}:{port}: {e.strerror}") from None
    return bound


# ----- the store ----------------------------------------------------------------------------------
async def reach_store(url: str, display: str, budget: Budget) -> None:
    """The store at ``url`` (with its password; ``display`` is what messages show) can be used."""
    try:
        config = StoreConfig.from_url(url)  # for SQLite this creates the file's folder
    except StoreConfigError as e:
        raise StartupError(f"store.url: {e}") from None
    except OSError as e:
        raise StartupError(f"store.url: cannot create the folder {e.filename}: {e.strerror}") from None
    if config.kind == "sqlite":
        await in_thread(_writable_sqlite, config.env["SQLITE_DBNAME"])
    elif config.kind == "postgres":
        await retry(f"store.url: {display}", lambda: in_thread(_connect_postgres, config.env, budget),
                    budget, (_Unreachable,))


def _writable_sqlite(path: str) -> None:
    if path == ":memory:":
        return
    try:
        with open(path, "ab"):  # creates it if missing: SQLite takes an empty file as a new database
            pass
        connection = sqlite3.connect(path, timeout=1)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except OSError as e:
        raise StartupError(f"store.url: cannot write {Path(path)}: {e.strerror}") from None
    except sqlite3.Error as e:
        raise StartupError(f"store.url: cannot use {Path(path)}: {e}") from None


_TRANSIENT = re.compile(r"starting up|shutting down|recovery|too many|remaining connection slots")


class _Unreachable(Exception):
    """The server did not answer (as opposed to answering no: a wrong password, no such database)."""


def _connect_postgres(env: dict[str, str], budget: Budget) -> None:
    import psycopg

    try:
        psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                        dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                        password=env["POSTGRES_PASSWORD"] or None,
                        connect_timeout=max(2, min(10, int(budget.left())))).close()
    except psycopg.OperationalError as e:
        # libpq gives no SQLSTATE for a refused connection, only the server's message. A server that
        # answered no (no such database or role, a wrong password) will not change its mind; one
        # that is starting, stopping or full may. Unrecognised (e.g. translated) messages are retried.
        text = one_line(e)
        if "FATAL:" in text and not _TRANSIENT.search(text):
            raise StartupError(f"store.url: {text}") from None
        raise _Unreachable(text) from None


# ----- exchanges ----------------------------------------------------------------------------------
async def reach_exchange(key: str, port: ExchangePort, url: str, budget: Budget) -> dict[str, Instrument]:
    """The exchange's instruments, loaded as the engine would; ``key`` names the account's config."""
    try:
        return await retry(f"{key}: {url}", port.load_instruments, budget, (Retryable, UnknownOutcome))
    except Rejected as e:
        raise StartupError(f"{key}: {url} refused to list its markets: {one_line(e)}") from None
