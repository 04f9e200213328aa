"""Signed signal intake: an aiohttp app serving ``POST /signals`` in front of the engine.

A request carries ``X-Warden-Timestamp`` (unix seconds), ``X-Warden-Nonce`` and
``X-Warden-Signature``: hex HMAC-SHA256 with the webhook secret over
``timestamp + "." + nonce + "." + body`` (`sign`). The intake refuses, counts by reason and records
(`SignalSink.record_rejection`) every request that is rate limited, oversized, unsigned, badly
signed, stale, replayed (nonce or signal id) or not a JSON object; the rest go to
`SignalSink.submit`, which records them itself. Neither the signature nor the secret is ever
recorded or answered. See docs/intake.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from warden.adapters.config import IntakeSettings
from warden.engine.core import NotReady

log = logging.getLogger("warden.intake")

TIMESTAMP, NONCE, SIGNATURE = "X-Warden-Timestamp", "X-Warden-Nonce", "X-Warden-Signature"
RAW_PREFIX = 512  # characters of an unparseable body kept with its rejection
MAX_DEPTH = 16  # nesting of a signal body; a signal is flat
MAX_REMEMBERED = 100_000  # nonces and signal ids; the rate limit keeps far fewer alive
_NONCE = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


def sign(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature of one request: hex HMAC-SHA256 over ``timestamp.nonce.body``."""
    message = timestamp.encode() + b"." + nonce.encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class SignalSink(Protocol):
    """What the intake feeds: `warden.engine.core.Engine` implements it."""

    async def submit(self, payload: Any, *, received_at: datetime) -> Any: ...

    def record_rejection(self, signal_id: str | None, reason: str, payload: Any, at: datetime) -> None: ...


@dataclass(frozen=True)
class Refusal:
    code: str  # the counter's and the recorded reason's first word
    http: int
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


class TokenBucket:
    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate, self.burst, self.monotonic = rate, burst, monotonic
        self.tokens, self.at = float(burst), monotonic()

    def take(self) -> bool:
        now = self.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Expiring:
    """Keys remembered until a wall-clock expiry (seconds); bounded by `MAX_REMEMBERED`."""

    def __init__(self) -> None:
        self.until: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, now: float) -> tuple[float, Any] | None:
        entry = self.until.get(key)
        return entry if entry is not None and entry[0] > now else None

    def add(self, key: str, expiry: float, now: float, value: Any = None) -> bool:
        if len(self.until) >= MAX_REMEMBERED:
            self.until = {k: v for k, v in self.until.items() if v[0] > now}
            if len(self.until) >= MAX_REMEMBERED:
                return False
        self.until[key] = (expiry, value)
        return True


class Intake:
    """``Intake(sink, settings).app()`` is the aiohttp app; `serve` runs it on host:port."""

    def __init__(self, sink: SignalSink, settings: IntakeSettings, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if settings.secret is None:
            raise ValueError("the intake needs a webhook secret (intake.secret_env or intake.secret_file)")
        self.sink, self.settings, self.now = sink, settings, now
        self._key = settings.secret.get_secret_value().encode()
        self.bucket = TokenBucket(float(settings.rate_per_second), settings.rate_burst, monotonic)
        self.nonces, self.signal_ids = Expiring(), Expiring()
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()  # by refusal code
        self._unrecorded, self._last_rate_record = 0, float("-inf")
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"Intake({self.settings.host}:{self.settings.port}, accepted={self.accepted})"

    def counters(self) -> dict[str, Any]:
        """For metrics: accepted, duplicate and rejected by reason."""
        return {"accepted": self.accepted, "duplicate": self.duplicates, "rejected": dict(self.rejected)}

    def app(self) -> web.Application:
        # aiohttp's own limit is above ours so that `_body` answers oversized bodies itself.
        app = web.Application(client_max_size=self.settings.max_body_bytes + 1024)
        app.router.add_post("/signals", self.handle)
        return app

    async def serve(self, sockets: Sequence[socket.socket] = ()) -> str:
        """Listen on ``sockets`` (bound at startup), else on the configured host and port (0: any
        free port); returns the signals URL."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        sites = [web.SockSite(self._runner, sock) for sock in sockets] or \
            [web.TCPSite(self._runner, self.settings.host, self.settings.port)]
        for site in sites:
            await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/signals"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- one request ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        at = self.now()
        if not self.bucket.take():  # the body is not even read
            return self._rate_limited(at)
        body, refusal = await self._body(request)
        payload, bad_json = (None, None) if refusal else _parse(body)
        refusal = refusal or self._authenticate(request, body, at) or bad_json
        if refusal is not None or payload is None:
            return self._refuse(refusal or Refusal("not_json", 400, "no body"), at, payload, body)
        signal_id = payload.get("signal_id")
        seen = self.signal_ids.get(signal_id, at.timestamp()) if isinstance(signal_id, str) else None
        if seen is not None:
            return self._refuse(Refusal("replayed_signal_id", 409, f"signal {signal_id} was accepted "
                                        f"less than {self.settings.skew_seconds} s ago"),
                                at, payload, body, position_id=seen[1])
        return await self._submit(payload, at)

    def _rate_limited(self, at: datetime) -> web.Response:
        """Counted always; recorded at most once a second, with the count, so that a flood cannot
        grow the log at its own rate."""
        refusal = Refusal("rate_limited", 429, "too many signals; slow down")
        self._unrecorded += 1
        now = self.bucket.monotonic()
        if now - self._last_rate_record < 1.0:
            self.rejected[refusal.code] += 1
            return _answer(429, "rejected", None, refusal.reason)
        self._last_rate_record, count, self._unrecorded = now, self._unrecorded, 0
        return self._refuse(refusal, at, {"refused_since_last_record": count}, b"")

    async def _body(self, request: web.Request) -> tuple[bytes, Refusal | None]:
        limit = self.settings.max_body_bytes
        too_big = Refusal("oversized", 413, f"the body is over {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            return await request.content.read(RAW_PREFIX), too_big
        body = await request.content.read(limit + 1)
        return (body[:RAW_PREFIX], too_big) if len(body) > limit else (body, None)

    def _authenticate(self, request: web.Request, body: bytes, at: datetime) -> Refusal | None:
        timestamp, nonce = request.headers.get(TIMESTAMP, ""), request.headers.get(NONCE, "")
        signature = request.headers.get(SIGNATURE, "")
        if not (timestamp and nonce and signature):
            return Refusal("unsigned", 401, f"{TIMESTAMP}, {NONCE} and {SIGNATURE} are required")
        if not timestamp.isdigit() or len(timestamp) > 12:
            return Refusal("unsigned", 401, f"{TIMESTAMP} must be unix seconds")
        if not _NONCE.fullmatch(nonce):
            return Refusal("unsigned", 401, f"{NONCE} must be 8-128 of A-Z a-z 0-9 _ . : -")
        expected = sign(self._key, timestamp, nonce, body)
        if not hmac.compare_digest(expected, signature.strip().lower()):
            return Refusal("bad_signature", 401, "the signature does not match the body")
        skew, now = self.settings.skew_seconds, at.timestamp()
        if abs(now - int(timestamp)) > skew:
            return Refusal("stale", 401, f"timestamp is {now - int(timestamp):+.0f} s from the "
                                         f"server clock (limit {skew} s)")
        if self.nonces.get(nonce, now) is not None:
            return Refusal("replayed_nonce", 409, "this nonce was already used")
        # a nonce outlives its timestamp's validity, after which a replay is refused as stale
        if not self.nonces.add(nonce, int(timestamp) + skew + 1, now):
            return Refusal("busy", 503, "too many recent nonces; retry shortly")
        return None

    async def _submit(self, payload: dict[str, Any], at: datetime) -> web.Response:
        try:
            outcome = await self.sink.submit(payload, received_at=at)
        except NotReady as e:
            return self._refuse(Refusal("not_ready", 503, str(e)), at, payload, b"")
        except Exception:
            log.exception("signal %r: the engine failed", payload.get("signal_id"))
            return self._refuse(Refusal("error", 500, "internal error; the signal was not opened"),
                                at, payload, b"")
        pid = str(outcome.position_id) if outcome.position_id is not None else None
        if outcome.status == "rejected":  # the engine has recorded it
            self.rejected["invalid"] += 1
            return _answer(400, "rejected", pid, outcome.reason)
        if outcome.status == "accepted":
            self.accepted += 1
        else:
            self.duplicates += 1
        signal_id = payload.get("signal_id")
        if isinstance(signal_id, str):
            self.signal_ids.add(signal_id, at.timestamp() + self.settings.skew_seconds, at.timestamp(), pid)
        return _answer(202 if outcome.status == "accepted" else 200, outcome.status, pid, None)

    def _refuse(self, refusal: Refusal, at: datetime, payload: dict[str, Any] | None, body: bytes,
                position_id: str | None = None) -> web.Response:
        self.rejected[refusal.code] += 1
        signal_id = payload.get("signal_id") if payload else None
        recorded = payload if payload is not None else \
            {"raw_text": body[:RAW_PREFIX].decode("utf8", "replace")}
        try:
            self.sink.record_rejection(signal_id if isinstance(signal_id, str) else None,
                                       refusal.reason, recorded, at)
        except Exception:  # still answer: the refusal stands even if the store is down
            log.exception("could not record a refused signal (%s)", refusal.code)
        return _answer(refusal.http, "rejected", position_id, refusal.reason)


def _parse(body: bytes) -> tuple[dict[str, Any] | None, Refusal | None]:
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, Refusal("not_json", 400, "the body is not JSON")
    if not isinstance(payload, dict):
        return None, Refusal("not_object", 400, "the body must be a JSON object")
    problem = _unstorable(payload)
    if problem:  # recorded as raw text instead
        return None, Refusal("not_object", 400, problem)
    return payload, None


def _unstorable(payload: dict[str, Any]) -> str | None:
    """Why a parsed body cannot be stored as it is: the event transcoder reads a dict keyed
    ``_type_`` as one of its own tagged values, and deep nesting exhausts its recursion."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the body nests deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            if "_type_" in value:
                return 'the key "_type_" is reserved'
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _answer(http: int, status: str, position_id: str | None, reason: str | None) -> web.Response:
    return web.json_response({"status": status, "position_id": position_id, "reason": reason},
                             status=http)
