"""One active warden per exchange account.

On PostgreSQL a session advisory lock per account (``pg_try_advisory_lock``) held on a dedicated
connection: if the process dies, its connection closes and the lock is released, so a standby takes
over. On SQLite an exclusive ``flock`` on a file beside the database plays the same role for the
processes of one machine. A second instance either waits as a standby or exits, by configuration;
it never trades at the same time.

A session lock also goes when the database restarts (an outage): the active instance `watch`es its
lock every `WATCH_S` and takes it again as soon as the database answers; if another instance got it
first, the lock is lost and the active instance must stop trading. An instance that has just taken
the locks on PostgreSQL after waiting for them, or within ``grace_s`` of the database's own start,
waits until ``grace_s`` has passed (several watch intervals) before it trades and then makes sure it
still holds them, so that an active instance that has not noticed the restart yet finds out and
stops first. An instance that takes free locks on a database up for longer than that starts at
once: an active instance would have taken its lock again by then. A file lock does not go with the
database: the watch has nothing to do there.
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from warden.adapters.store import StoreConfig
from warden.adapters.threads import in_thread

log = logging.getLogger("warden.lock")

WATCH_S = 0.5  # how often the active instance checks its lock
GRACE_S = 3.0  # default of engine.lock_grace_s: a few watch intervals and a reconnect
CONNECT_TIMEOUT_S = 2  # a lock check never hangs on a database that does not answer ...
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 1,  # ... nor for long
              "keepalives_count": 3}  # on a connection whose peer went silent


class LockHeld(RuntimeError):
    """Another instance holds the lock of an account."""


class LockLost(RuntimeError):
    """Another instance took this instance's lock while the database was restarting."""


class Held(enum.Enum):
    YES = "held"  # the lock connection is alive (or the locks were taken again on a new one)
    UNKNOWN = "unknown"  # the database does not answer: nobody else can take the locks either
    LOST = "lost"  # the database answers and another instance holds a lock


def lock_key(venue: str, account: str) -> int:
    """A stable signed 64-bit key for the advisory lock of one account."""
    digest = hashlib.sha256(f"warden/{venue}/{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class InstanceLock:
    def __init__(self, store_url: str, accounts: Iterable[tuple[str, str]]) -> None:
        self.config = StoreConfig.from_url(store_url)
        self.accounts = sorted(set(accounts))
        self.names = ", ".join(f"{v}/{a}" for v, a in self.accounts)
        self._conn: Any = None
        self._files: list[int] = []
        self._holding = False  # between taking the locks and release: a check may take them again
        self._using = threading.Lock()  # a check in its thread and a release never share the connection

    def try_acquire(self) -> bool:
        """Take every account's lock, or none of them."""
        with self._using:
            if self._session_lock:
                try:
                    self._holding = self._try_postgres()
                except Exception:
                    self._close()  # a connection that broke half way holds nothing
                    raise
            else:
                self._holding = self._try_files()
            return self._holding

    async def acquire(self, *, standby: bool, poll_s: float = 1.0, grace_s: float = GRACE_S) -> None:
        """Take the locks now, or (``standby``) wait until the active instance is gone. On PostgreSQL
        the locks are then held for ``grace_s`` before this returns, and still held at its end."""
        import psycopg

        waiting = False
        while True:
            try:
                taken = await in_thread(self.try_acquire, name="warden-lock")
            except psycopg.OperationalError as e:  # the database restarts under a waiting standby
                if not standby:
                    raise
                log.warning("cannot take the instance lock for %s yet: %s", self.names,
                            str(e).strip().splitlines()[0] if str(e).strip() else repr(e),
                            extra={"event": "standby"})
                taken = False
            if taken and not self._session_lock:
                return
            if taken and await self._still_held_after(
                    grace_s if waiting else await self._since_restart(grace_s)):
                return
            if not standby:
                raise LockHeld(f"another warden instance is active for {self.names}; "
                               "start it with engine.standby = true to take over when that one stops")
            if not waiting:
                log.info("another warden instance is active for %s; waiting as a standby", self.names,
                         extra={"event": "standby"})
                waiting = True
            await asyncio.sleep(poll_s)

    async def _since_restart(self, grace_s: float) -> float:
        """What is left of ``grace_s`` since the database started: 0 on a database up for longer
        (an active instance that lost its lock in a restart would have taken it again by then)."""
        def left() -> float:
            with self._using:
                row = self._conn.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())"
                                         ).fetchone()
            return max(0.0, grace_s - float(row[0]))
        return await in_thread(left, name="warden-lock")

    async def _still_held_after(self, grace_s: float) -> bool:
        """An active instance that lost its lock in a database restart notices within ``grace_s``
        and stops; only then may this one trade. A lock lost meanwhile is given back whole."""
        if grace_s <= 0:
            return True
        log.info("took the instance lock for %s; trading in %.1f s unless it is lost meanwhile",
                 self.names, grace_s, extra={"event": "lock_taken"})
        await asyncio.sleep(grace_s)
        if await in_thread(self._alive, name="warden-lock") is Held.YES:
            return True
        log.warning("lost the instance lock for %s during the grace period", self.names,
                    extra={"event": "lock_lost"})
        self.release()
        return False

    async def watch(self, on_lost: Callable[[], None], every_s: float = WATCH_S) -> None:
        """Until cancelled: check the lock every ``every_s`` and take it again after a database
        restart; call ``on_lost`` once (and return) if another instance took it meanwhile."""
        if not self._session_lock:
            return  # a file lock stays with this process
        was = Held.YES
        while True:
            await asyncio.sleep(every_s)
            now = await in_thread(self.check, name="warden-lock")
            if now is Held.LOST:
                log.error("another warden instance took the instance lock for %s while the database "
                          "was unavailable: this instance stops trading and exits", self.names,
                          extra={"event": "lock_lost"})
                on_lost()
                return
            if now is not was:
                if now is Held.UNKNOWN:
                    log.warning("the instance lock for %s cannot be checked: the database does not "
                                "answer", self.names, extra={"event": "lock_unknown"})
                else:
                    log.info("the instance lock for %s is held again", self.names,
                             extra={"event": "lock_held"})
            was = now

    def check(self) -> Held:
        """Blocking: is the lock still held? A broken lock connection is replaced and every
        account's lock taken again on the new one, all or none."""
        state = self._alive()
        if state is not Held.UNKNOWN:
            return state
        import psycopg

        with self._using:
            if not self._holding or self._conn is not None:
                return Held.UNKNOWN  # released meanwhile: nothing to take again
            try:
                return Held.YES if self._try_postgres() else Held.LOST
            except psycopg.OperationalError:  # still no database
                self._close()
                return Held.UNKNOWN

    def release(self) -> None:
        with self._using:
            self._holding = False
            self._close()
            for fd in self._files:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            self._files = []

    @property
    def _session_lock(self) -> bool:
        return self.config.kind == "postgres"

    def _alive(self) -> Held:
        """Is the lock connection alive? A dead one is closed (its locks went with it)."""
        if not self._session_lock:
            return Held.YES
        import psycopg

        with self._using:
            if self._conn is None:
                return Held.UNKNOWN
            try:
                self._conn.execute("SELECT 1")
                return Held.YES
            except psycopg.Error:  # broken: OperationalError; closed by the server: InterfaceError
                self._close()
                return Held.UNKNOWN

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # session locks go with the session
            finally:
                self._conn = None

    def _try_postgres(self) -> bool:
        import psycopg

        env = self.config.env
        if self._conn is None:
            self._conn = psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                                         dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                                         password=env["POSTGRES_PASSWORD"] or None, autocommit=True,
                                         connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES)
        taken = []
        for venue, account in self.accounts:
            key = lock_key(venue, account)
            if not self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                for other in taken:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (other,))
                return False
            taken.append(key)
        return True

    def _try_files(self) -> bool:
        base = Path(self.config.env.get("SQLITE_DBNAME", "var/warden"))
        if str(base) == ":memory:":
            base = Path("var/memory-store")
        base.parent.mkdir(parents=True, exist_ok=True)
        for venue, account in self.accounts:
            fd = os.open(f"{base}.{venue}.{account}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                for held in self._files:
                    fcntl.flock(held, fcntl.LOCK_UN)
                    os.close(held)
                self._files = []
                return False
            self._files.append(fd)
        return True
