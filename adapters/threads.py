"""Blocking calls off the event loop, in daemon threads.

`in_thread` runs one call in its own daemon thread. Unlike `asyncio.to_thread`, whose pool is
joined when the loop closes, a SIGTERM need not wait for a call that hangs (a connection attempt,
a read retrying against a database that is down): the awaiting task can give up on it
(``asyncio.wait_for``) and the thread ends on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any, name: str = "warden-call") -> T:
    """``fn(*args)`` in a daemon thread; its result or its exception, once it returns."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def run() -> None:
        try:
            outcome, value = future.set_result, fn(*args)
        except BaseException as e:  # handed to the awaiting task, which decides
            outcome, value = future.set_exception, e
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, outcome, value)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
