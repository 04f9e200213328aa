"""Fixtures for intake tests: a real engine on a memory store against the simulator, the intake
over real HTTP on 127.0.0.1, and a signer that can get every header wrong on purpose."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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


class Client:
    """Posts to the intake; each keyword spoils one part of the signing."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.sent = session, url, 0

    async def post(self, payload: Any = None, *, raw: bytes | None = None, secret: str = CANARY,
                   skew: int = 0, nonce: str | None = None, headers: dict[str, str] | None = None,
                   omit: str | None = None) -> Reply:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.sent += 1
        stamp = str(int(time.time()) + skew)
        nonce = nonce or f"nonce-{time.monotonic_ns()}-{self.sent}"
        sent = {TIMESTAMP: stamp, NONCE: nonce, SIGNATURE: sign(secret.encode(), stamp, nonce, body),
                "Content-Type": "application/json", **(headers or {})}
        sent.pop(omit or "", None)
        async with self.session.post(self.url, data=body, headers=sent) as response:
            text = await response.text()
            return Reply(response.status, json.loads(text), text)


def settings(**overrides: Any) -> IntakeSettings:
    base = {"host": "127.0.0.1", "port": 0, "secret": SecretStr(CANARY), "rate_per_second": Decimal(1000),
            "rate_burst": 1000}
    return IntakeSettings(**{**base, **overrides})


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """``await serve(engine, **settings)`` -> (intake, client) over real HTTP."""
    intakes: list[Intake] = []
    async with aiohttp.ClientSession() as session:
        async def start(sink: Any, **overrides: Any) -> tuple[Intake, Client]:
            intake = Intake(sink, settings(**overrides))
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
