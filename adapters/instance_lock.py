"""One active warden per exchange account.

On PostgreSQL a session advisory lock per account (``pg_try_advisory_lock``) held on a dedicated
connection: if the process dies, its connection closes and the lock is released, so a standby takes
over. On SQLite an exclusive ``flock`` on a file beside the database plays the same role for the
processes of one machine. A second instance either waits as a standby or exits, by configuration;
it never trades at the same time.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from warden.adapters.store import StoreConfig

log = logging.getLogger("warden.lock")


class LockHeld(RuntimeError):
    """Another instance holds the lock of an account."""


def lock_key(venue: str, account: str) -> int:
    """A stable signed 64-bit key for the advisory lock of one account."""
    digest = hashlib.sha256(f"warden/{venue}/{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class InstanceLock:
    def __init__(self, store_url: str, accounts: Iterable[tuple[str, str]]) -> None:
        self.config = StoreConfig.from_url(store_url)
        self.accounts = sorted(set(accounts))
        self._conn: Any = None
        self._files: list[int] = []

    def try_acquire(self) -> bool:
        """Take every account's lock, or none of them."""
        if self.config.kind == "postgres":
            return self._try_postgres()
        return self._try_files()

    async def acquire(self, *, standby: bool, poll_s: float = 1.0) -> None:
        """Take the locks now, or (``standby``) wait until the active instance is gone."""
        names = ", ".join(f"{v}/{a}" for v, a in self.accounts)
        waiting = False
        while not self.try_acquire():
            if not standby:
                raise LockHeld(f"another warden instance is active for {names}; "
                               "start it with engine.standby = true to take over when that one stops")
            if not waiting:
                log.info("another warden instance is active for %s; waiting as a standby", names,
                         extra={"event": "standby"})
                waiting = True
            await asyncio.sleep(poll_s)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # session locks go with the session
            self._conn = None
        for fd in self._files:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._files = []

    def _try_postgres(self) -> bool:
        import psycopg

        env = self.config.env
        if self._conn is None:
            self._conn = psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                                         dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                                         password=env["POSTGRES_PASSWORD"] or None, autocommit=True)
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
                self.release()
                return False
            self._files.append(fd)
        return True
