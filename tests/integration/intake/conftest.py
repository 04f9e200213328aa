"""Fixtures for intake tests: a real engine on a memory store against the simulator, the intake
over real HTTP on 127.0.0.1, a signer that can get every header wrong on purpose, clients from
other loopback addresses (127.0.0.0/8 is all loopback: each address is a source of its own), and a
raw socket client that sends a request in pieces, as slowly as a test wants."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from pydantic import SecretStr

from tests.integration.engine.conftest import clock, make_engine, sim, store  # noqa: F401 (fixtures)
from warden.adapters.config import IntakeSettings
from warden.adapters.intake import NONCE, SIGNATURE, TIMESTAMP, Intake, sign
from warden.adapters.store import WardenStore
from warden.engine.core import Engine

CANARY = "CANARY-webhook-secret-9f1c2e"


@dataclass
class Reply:
    http: int
    body: dict[str, Any]
    text: str


_sent = 0


def signed(body: bytes, *, secret: str = CANARY, skew: int = 0, nonce: str | None = None) -> dict[str, str]:
    global _sent
    _sent += 1
    stamp = str(int(time.time()) + skew)
    nonce = nonce or f"nonce-{time.monotonic_ns()}-{_sent}"
    return {TIMESTAMP: stamp, NONCE: nonce, SIGNATURE: sign(secret.encode(), stamp, nonce, body),
            "Content-Type": "application/json"}


class Client:
    """Posts to the intake; each keyword spoils one part of the signing."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.sent = session, url, 0

    async def post(self, payload: Any = None, *, raw: bytes | None = None, secret: str = CANARY,
                   skew: int = 0, nonce: str | None = None, headers: dict[str, str] | None = None,
                   omit: str | None = None) -> Reply:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.sent += 1
        sent = {**signed(body, secret=secret, skew=skew, nonce=nonce), **(headers or {})}
        sent.pop(omit or "", None)
        async with self.session.post(self.url, data=body, headers=sent) as response:
            text = await response.text()
            return Reply(response.status, json.loads(text), text)


@pytest.fixture
async def client_at() -> AsyncIterator[Any]:
    """``client_at(url, "127.0.0.5")``: a `Client` whose connections come from that address."""
    sessions: list[aiohttp.ClientSession] = []

    def make(url: str, source: str) -> Client:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
        sessions.append(session)
        return Client(session, url)

    yield make
    for session in sessions:
        await session.close()


async def raw_request(url: str, pieces: list[bytes], *, gap: float = 0.0, source: str = "127.0.0.1",
                      wait: float = 10.0) -> tuple[int | None, bytes, float]:
    """Send ``pieces`` on one new connection, ``gap`` seconds apart, then read until the server
    closes it or ``wait`` passes. Returns the HTTP status (None: closed without an answer), what was
    read, and the seconds from connecting until the server closed the connection."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, local_addr=(source, 0))
    started, answer = time.monotonic(), b""
    try:
        for i, piece in enumerate(pieces):
            if i and gap:
                await asyncio.sleep(gap)
            writer.write(piece)
            await writer.drain()
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                answer += chunk
    except OSError:  # reset by the server, or the wait is over (TimeoutError)
        pass
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, answer, time.monotonic() - started


def http_head(url: str, headers: dict[str, str], length: int | None, *, keep_alive: bool = False) -> bytes:
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
             *(f"{k}: {v}" for k, v in headers.items())]
    if not keep_alive:
        lines.append("Connection: close")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def settings(**overrides: Any) -> IntakeSettings:
    base = {"host": "127.0.0.1", "port": 0, "secret": SecretStr(CANARY), "rate_per_second": Decimal(1000),
            "rate_burst": 1000}
    return IntakeSettings(**{**base, **overrides})


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """``await serve(engine, now=clock, **settings)`` -> (intake, client) over real HTTP."""
    intakes: list[Intake] = []
    async with aiohttp.ClientSession() as session:
        async def start(sink: Any, now: Any = None, **overrides: Any) -> tuple[Intake, Client]:
            intake = Intake(sink, settings(**overrides), **({"now": now} if now else {}))
            intakes.append(intake)
            return intake, Client(session, await intake.serve())

        yield start
        for intake in intakes:
            await intake.close()


@pytest.fixture
async def engine(make_engine) -> Engine:  # noqa: F811 (the imported fixture)
    return await make_engine(venues=("bybit",))


def stored_text(store: WardenStore) -> str:  # noqa: F811
    """Every stored event as the bytes the store holds, decoded: what a leak would show up in."""
    return "\n".join(n.state.decode("utf8", "replace") for n in store.stored_notifications())


def rejections(store: WardenStore) -> list[Any]:  # noqa: F811
    return [e for e in store.all_events() if type(e).__name__ == "SignalRejected"]
