"""Websocket sessions of the simulator and the push path that latency and faults can disturb.

Each connection gets a `Session` with its own outgoing queue and writer task, so pushes leave in
the order they were produced unless a fault (delay, duplicate, reorder, drop) says otherwise.
Each queued frame carries the loop time it is due (latency); the writer waits for it. Control
frames (auth acks, pongs, subscribe answers) bypass latency and faults via `send_now`. Raw
frames (`push_raw`) take the same path as pushes but are sent exactly as given, malformed or not.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .faults import FaultBook, FaultKind
from .latency import Latency

_conn_ids = itertools.count(1)
SIM: web.AppKey[Any] = web.AppKey("sim")   # the Simulator, for handlers to find it
BODY: web.RequestKey[str] = web.RequestKey("sim_body", str)    # raw request body, as signed
RECORD: web.RequestKey[Any] = web.RequestKey("sim_record")     # the request-log entry
RAW_TOPIC = "raw"


def compact(payload: object) -> str:
    """JSON the way the venues send it: no spaces."""
    return json.dumps(payload, separators=(",", ":"))


@dataclass(frozen=True)
class Frame:
    due: float                       # loop time at which it may leave
    data: str | bytes | None         # None: close the socket from the server side
    binary: bool = False


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    venue: str
    request: web.Request
    account: str | None = None
    topics: set[str] = field(default_factory=set)
    silenced: bool = False           # e.g. its listenKey expired: nothing more is pushed
    listen_key: str | None = None
    private: bool = False            # a private (account) stream, as opposed to market data
    conn_id: str = field(default_factory=lambda: f"sim-conn-{next(_conn_ids)}")
    queue: asyncio.Queue[Frame] = field(default_factory=asyncio.Queue)
    held: list[str] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    last_due: float = 0.0

    async def send_now(self, payload: object) -> None:
        if not self.ws.closed:
            await self.ws.send_str(compact(payload))

    def enqueue(self, data: str | bytes | None, delay: float = 0.0, binary: bool = False) -> None:
        """Queue a frame `delay` seconds from now, never ahead of the frame queued before it."""
        due = max(asyncio.get_running_loop().time() + delay, self.last_due)
        self.last_due = due
        self.queue.put_nowait(Frame(due, data, binary))


class Hub:
    """All open websocket sessions, and delivery of pushes through latency and the fault book."""

    def __init__(self, faults: FaultBook, latency: Latency | None = None) -> None:
        self.faults = faults
        self.latency = latency or Latency()
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
        loop = asyncio.get_running_loop()
        while True:
            frame = await session.queue.get()
            wait = frame.due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if session.ws.closed:
                return
            try:
                if frame.data is None:      # the close marker: shut the socket from our side
                    await session.ws.close(code=1000, message=b"sim: server closed")
                    return
                if isinstance(frame.data, str):
                    await session.ws.send_str(frame.data)
                else:
                    await session.ws.send_frame(frame.data, WSMsgType.BINARY if frame.binary
                                                else WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                return

    def push(self, session: Session, topic: str, payload: object) -> None:
        """Queue one push, subject to latency and the push faults of the session's venue."""
        self._deliver(session, topic, compact(payload), payload)

    def push_raw(self, session: Session, data: str | bytes, binary: bool = False) -> bool:
        """Queue a frame exactly as given (text that may not even be UTF-8, or binary)."""
        if isinstance(data, str) and not binary:
            try:
                data.encode()
            except UnicodeEncodeError:      # lone surrogates: send the bytes as a TEXT frame
                data = data.encode("utf-8", "surrogatepass")
        return self._deliver(session, RAW_TOPIC, data, None, binary)

    def _deliver(self, session: Session, topic: str, text: str | bytes, payload: object,
                 binary: bool = False) -> bool:
        if session.silenced or session.ws.closed:
            return False
        venue = session.venue
        if self.faults.take(FaultKind.PUSH_DROP, venue, topic):
            return False
        copies = 2 if self.faults.take(FaultKind.PUSH_DUPLICATE, venue, topic) else 1
        self.sent.append({"venue": venue, "account": session.account, "topic": topic,
                          "payload": payload if payload is not None else _preview(text),
                          "copies": copies})
        delay = self.faults.take(FaultKind.PUSH_DELAY, venue, topic)
        reorder = self.faults.peek(FaultKind.PUSH_REORDER, venue, topic)
        loop = asyncio.get_running_loop()
        for _ in range(copies):
            if delay is not None:
                loop.call_later(delay.seconds, session.enqueue, text, self.latency.sample(),
                                binary)
            elif reorder is not None and isinstance(text, str):
                session.held.append(text)
                if len(session.held) >= max(2, reorder.batch):
                    self.faults.take(FaultKind.PUSH_REORDER, venue, topic)
                    self._release(session)
            else:
                session.enqueue(text, self.latency.sample(), binary)
        return True

    def _release(self, session: Session) -> None:
        for held in reversed(session.held):
            session.enqueue(held, self.latency.sample())
        session.held.clear()

    def flush_held(self) -> None:
        """Release pushes a reorder fault is still holding (in reversed order)."""
        for session in self.sessions:
            self._release(session)

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


def _preview(data: str | bytes) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return text if len(text) <= 200 else text[:200] + "..."
