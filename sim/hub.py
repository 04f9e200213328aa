"""Websocket sessions of the simulator and the push path that the faults can disturb.

Each connection gets a `Session` with its own outgoing queue and writer task, so pushes leave in
the order they were produced unless a fault (delay, duplicate, reorder, drop) says otherwise.
Control frames (auth acks, pongs, subscribe answers) bypass the faults via `send_now`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import FaultBook, FaultKind

_conn_ids = itertools.count(1)
SIM: web.AppKey[Any] = web.AppKey("sim")   # the Simulator, for handlers to find it
BODY: web.RequestKey[str] = web.RequestKey("sim_body", str)    # raw request body, as signed
RECORD: web.RequestKey[Any] = web.RequestKey("sim_record")     # the request-log entry


def compact(payload: object) -> str:
    """JSON the way the venues send it: no spaces."""
    return json.dumps(payload, separators=(",", ":"))


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    venue: str
    request: web.Request
    account: str | None = None
    topics: set[str] = field(default_factory=set)
    silenced: bool = False           # e.g. its listenKey expired: nothing more is pushed
    listen_key: str | None = None
    conn_id: str = field(default_factory=lambda: f"sim-conn-{next(_conn_ids)}")
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    held: list[str] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None

    async def send_now(self, payload: object) -> None:
        if not self.ws.closed:
            await self.ws.send_str(compact(payload))


class Hub:
    """All open websocket sessions, and delivery of pushes through the fault book."""

    def __init__(self, faults: FaultBook) -> None:
        self.faults = faults
        self.sessions: set[Session] = set()
        self.sent: deque[dict[str, object]] = deque(maxlen=50_000)   # pushes sent, for tests

    def open(self, session: Session) -> Session:
        session.writer = asyncio.get_running_loop().create_task(self._write(session))
        self.sessions.add(session)
        return session

    def close(self, session: Session) -> None:
        self.sessions.discard(session)
        if session.writer is not None:
            session.writer.cancel()

    async def _write(self, session: Session) -> None:
        while True:
            text = await session.queue.get()
            if session.ws.closed:
                return
            if not text:        # the close marker: shut the socket from the server side
                await session.ws.close(code=1000, message=b"sim: server closed")
                return
            try:
                await session.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def push(self, session: Session, topic: str, payload: object) -> None:
        """Queue one push, subject to the push faults of the session's venue."""
        if session.silenced or session.ws.closed:
            return
        venue = session.venue
        if self.faults.take(FaultKind.PUSH_DROP, venue, topic):
            return
        text = compact(payload)
        copies = 2 if self.faults.take(FaultKind.PUSH_DUPLICATE, venue, topic) else 1
        self.sent.append({"venue": venue, "account": session.account, "topic": topic,
                          "payload": payload, "copies": copies})
        delay = self.faults.take(FaultKind.PUSH_DELAY, venue, topic)
        reorder = self.faults.peek(FaultKind.PUSH_REORDER, venue, topic)
        for _ in range(copies):
            if delay is not None:
                asyncio.get_running_loop().call_later(delay.seconds, session.queue.put_nowait, text)
            elif reorder is not None:
                session.held.append(text)
                if len(session.held) >= max(2, reorder.batch):
                    self.faults.take(FaultKind.PUSH_REORDER, venue, topic)
                    for held in reversed(session.held):
                        session.queue.put_nowait(held)
                    session.held.clear()
            else:
                session.queue.put_nowait(text)

    def flush_held(self) -> None:
        """Release pushes a reorder fault is still holding (in reversed order)."""
        for session in self.sessions:
            for held in reversed(session.held):
                session.queue.put_nowait(held)
            session.held.clear()

    def of(self, venue: str | None = None, account: str | None = None) -> list[Session]:
        return [s for s in self.sessions if (venue is None or s.venue == venue)
                and (account is None or s.account == account)]

    async def drop(self, venue: str | None = None, abrupt: bool = False) -> int:
        """Close sessions from the server side: a clean close (code 1000) or a torn socket."""
        victims = self.of(venue)
        for session in victims:
            if abrupt and session.request.transport is not None:
                session.request.transport.abort()
            else:
                await session.ws.close(code=1000, message=b"sim: server closed")
            self.close(session)
        return len(victims)
