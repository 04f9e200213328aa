"""Signed signal intake: an aiohttp app serving ``POST /signals`` in front of the engine.

A request carries ``X-Warden-Timestamp`` (unix seconds), ``X-Warden-Nonce`` and
``X-Warden-Signature``: hex HMAC-SHA256 with the webhook secret over
``timestamp + "." + nonce + "." + body`` (`sign`), computed over the whole body once it has all
arrived. Authentication comes first: a request that fails it (unsigned, badly signed, stale,
replayed nonce, oversized, too slow) spends only its source address's small budget, never the
shared one, and is recorded compactly (size, hash, first bytes), at most about once a second.
An authenticated request then takes from the shared rate budget, and its refusals (not JSON,
replayed signal, rate limited, refused by the engine...) are each recorded with the signal.
Accepted signals go to `SignalSink.submit`, which records them itself. Neither the signature nor
the secret is ever recorded or answered. See docs/intake.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from aiohttp import web

from warden.adapters.config import IntakeSettings
from warden.adapters.http_guard import ConnectionGuard, GuardedSite
from warden.adapters.intake_limits import Expiring, RecordBudget, SourceBuckets, TokenBucket, source_of
from warden.domain.errors import InvalidSignal
from warden.domain.ids import position_id
from warden.domain.signal import signal_key
from warden.engine.core import NotReady
from warden.engine.errors import StoreUnavailable

log = logging.getLogger("warden.intake")

TIMESTAMP, NONCE, SIGNATURE = "X-Warden-Timestamp", "X-Warden-Nonce", "X-Warden-Signature"
RAW_PREFIX = 512  # characters of an authenticated body that is not JSON kept with its rejection
HEAD = 96  # bytes of an unauthenticated body kept with its rejection
MAX_DEPTH = 16  # nesting of a signal body; a signal is flat
UNAUTHENTICATED_RECORDS = (1.0, 10)  # records a second, burst: what a flood can add to the log
RECORD_WAIT_S = 2.0  # the longest a refusal's answer waits for its record to be durable
_NONCE = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


def sign(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature of one request: hex HMAC-SHA256 over ``timestamp.nonce.body``."""
    message = timestamp.encode() + b"." + nonce.encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class SignalSink(Protocol):
    """What the intake feeds: `warden.engine.core.Engine` implements it."""

    async def submit(self, payload: Any, *, received_at: datetime) -> Any: ...

    def record_rejection(self, signal_id: str | None, reason: str, payload: Any,
                         at: datetime) -> Awaitable[Any] | None:
        """Queue the record; the awaitable says when it is durable (None: kept for later)."""


@dataclass(frozen=True)
class Refusal:
    code: str  # the counter's and the recorded reason's first word
    http: int
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


SOURCE_LIMITED = Refusal("source_limited", 429, "too many unauthenticated requests from this address")
RATE_LIMITED = Refusal("rate_limited", 429, "too many signals; slow down")


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
        self.sources = SourceBuckets(float(settings.unauthenticated_per_second),
                                     settings.unauthenticated_burst, monotonic)
        self.records = RecordBudget(*UNAUTHENTICATED_RECORDS, monotonic)
        self.guard = ConnectionGuard(
            max_connections=settings.max_connections, max_per_source=settings.max_connections_per_source,
            header_timeout=float(settings.header_timeout_seconds),
            idle_timeout=float(settings.idle_timeout_seconds))
        self.nonces, self.signal_keys = Expiring(), Expiring()
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()  # by refusal code
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"Intake({self.settings.host}:{self.settings.port}, accepted={self.accepted})"

    def counters(self) -> dict[str, Any]:
        """For metrics: accepted, duplicate, rejected by reason, connections open and closed."""
        return {"accepted": self.accepted, "duplicate": self.duplicates, "rejected": dict(self.rejected),
                "connections": self.guard.counters()}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard.middleware])
        app.router.add_post("/signals", self.handle)
        return app

    async def serve(self, sockets: Sequence[socket.socket] = ()) -> str:
        """Listen on ``sockets`` (bound at startup), else on the configured host and port (0: any
        free port); returns the signals URL."""
        # lingering_time 0: a refused request's unread body is not waited for (aiohttp would keep
        # reading it for 10 s before closing); the connection closes once the answer is written.
        # aiohttp's own keep-alive timer only backs up the guard's (an hour by default).
        self._runner = web.AppRunner(self.app(), access_log=None, lingering_time=0,
                                     keepalive_timeout=float(self.settings.idle_timeout_seconds) + 1)
        await self._runner.setup()
        sites = [GuardedSite(self._runner, self.guard, sock=sock) for sock in sockets] or \
            [GuardedSite(self._runner, self.guard, host=self.settings.host, port=self.settings.port)]
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
        at, source = self.now(), source_of(request.remote)
        signing, refusal = _signing_headers(request)
        body: bytes | None = None
        if refusal is None:
            body, refusal = await self._body(request)
            refusal = refusal or self._verify(signing, body, at)
            if refusal is not None and not self.sources.take(source):
                refusal = SOURCE_LIMITED
        elif self.sources.take(source):
            body, _ = await self._body(request)  # for the record's size, hash and first bytes
        else:  # the cheapest answer: nothing is read
            refusal = SOURCE_LIMITED
        if refusal is not None:
            return await self._refuse_unauthenticated(refusal, request, source, body, at)
        return await self._authenticated(body or b"", source, at)

    async def _body(self, request: web.Request) -> tuple[bytes, Refusal | None]:
        """The whole body: aiohttp's ``content.read(n)`` returns what has arrived so far, so read
        until the end, within the size limit and the body deadline."""
        limit, seconds = self.settings.max_body_bytes, float(self.settings.body_timeout_seconds)
        too_big = Refusal("oversized", 413, f"the body is over {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            return b"", too_big
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(seconds):
                while size <= limit:
                    chunk = await request.content.read(limit + 1 - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        except TimeoutError:
            return b"".join(chunks), Refusal("slow_body", 408, f"the body took over {seconds:g} s")
        return b"".join(chunks), (too_big if size > limit else None)

    def _verify(self, signing: tuple[str, str, str], body: bytes, at: datetime) -> Refusal | None:
        timestamp, nonce, signature = signing
        given = signature.strip().lower().encode("utf8", "surrogateescape")  # any header bytes
        if not hmac.compare_digest(sign(self._key, timestamp, nonce, body).encode(), given):
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

    async def _authenticated(self, body: bytes, source: str, at: datetime) -> web.Response:
        if not self.bucket.take():
            return await self._refuse(RATE_LIMITED, at, _signal_id_in(body), _fingerprint(body, None, source))
        payload, refusal = _parse(body)
        if refusal is not None or payload is None:
            return await self._refuse(refusal or Refusal("not_json", 400, "no body"), at, None,
                                {"raw_text": body[:RAW_PREFIX].decode("utf8", "replace")})
        key = _replay_key(payload)
        seen = self.signal_keys.get(key, at.timestamp()) if key else None
        if seen is not None:
            return await self._refuse(Refusal("replayed_signal_id", 409,
                                        f"signal {payload['signal_id']} was accepted less than "
                                        f"{self.settings.skew_seconds} s ago"),
                                at, payload["signal_id"], payload, position_id=seen[1])
        return await self._submit(payload, key, at)

    async def _submit(self, payload: dict[str, Any], key: str | None, at: datetime) -> web.Response:
        signal_id = payload.get("signal_id") if isinstance(payload.get("signal_id"), str) else None
        try:
            outcome = await self.sink.submit(payload, received_at=at)
        except NotReady as e:
            return await self._refuse(Refusal("not_ready", 503, str(e)), at, signal_id, payload)
        except StoreUnavailable as e:  # recorded once the store is back
            return await self._refuse(Refusal("store_unavailable", 503, str(e)), at, signal_id, payload)
        except Exception:
            log.exception("signal %r: the engine failed", signal_id)
            return await self._refuse(Refusal("error", 500, "internal error; the signal was not opened"),
                                at, signal_id, payload)
        pid = str(outcome.position_id) if outcome.position_id is not None else None
        if outcome.status == "rejected":  # the engine has recorded it
            self.rejected["invalid"] += 1
            return _answer(400, "rejected", pid, outcome.reason)
        if outcome.status == "accepted":
            self.accepted += 1
        else:
            self.duplicates += 1
        if key is not None:  # the key is the position id: one meaning of "this signal" everywhere
            self.signal_keys.add(key, at.timestamp() + self.settings.skew_seconds, at.timestamp(), pid)
        return _answer(202 if outcome.status == "accepted" else 200, outcome.status, pid, None)

    async def _refuse(self, refusal: Refusal, at: datetime, signal_id: str | None, recorded: dict[str, Any],
                position_id: str | None = None) -> web.Response:
        """An authenticated refusal: answered, counted and always recorded."""
        self.rejected[refusal.code] += 1
        await self._record(signal_id, refusal, recorded, at)
        return _answer(refusal.http, "rejected", position_id, refusal.reason)

    async def _refuse_unauthenticated(self, refusal: Refusal, request: web.Request, source: str,
                                body: bytes | None, at: datetime) -> web.Response:
        """Answered and counted always; recorded compactly within `records`' budget (the next record
        says how many were not). The connection is closed: its body may be unread."""
        self.rejected[refusal.code] += 1
        skipped = self.records.admit(refusal.code)
        if skipped is not None:
            recorded = _fingerprint(body, request.content_length, source)
            if skipped:
                recorded["unrecorded_before"] = skipped
            await self._record(None, refusal, recorded, at)
        response = _answer(refusal.http, "rejected", None, refusal.reason)
        response.force_close()
        return response

    async def _record(self, signal_id: str | None, refusal: Refusal, recorded: dict[str, Any],
                      at: datetime) -> None:
        """Recorded before it is answered, while the store can be written; when it cannot, the
        engine keeps the record for later and the answer goes out at once."""
        try:
            recording = self.sink.record_rejection(signal_id, refusal.reason, recorded, at)
            # a refusal because the store does not answer: answered at once, recorded when it can be
            if recording is not None and refusal.code != "store_unavailable":
                await asyncio.wait_for(asyncio.shield(recording), RECORD_WAIT_S)
        except TimeoutError:  # the store went down meanwhile: the record is queued, answer now
            log.warning("a refused signal's record is still queued (%s)", refusal.code)
        except Exception:  # still answer: the refusal stands even if the store is down
            log.exception("could not record a refused signal (%s)", refusal.code)


def _signing_headers(request: web.Request) -> tuple[tuple[str, str, str], Refusal | None]:
    timestamp, nonce = request.headers.get(TIMESTAMP, ""), request.headers.get(NONCE, "")
    signature = request.headers.get(SIGNATURE, "")
    signing = (timestamp, nonce, signature)
    if not (timestamp and nonce and signature):
        return signing, Refusal("unsigned", 401, f"{TIMESTAMP}, {NONCE} and {SIGNATURE} are required")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return signing, Refusal("unsigned", 401, f"{TIMESTAMP} must be unix seconds")
    if not _NONCE.fullmatch(nonce):
        return signing, Refusal("unsigned", 401, f"{NONCE} must be 8-128 of A-Z a-z 0-9 _ . : -")
    return signing, None


def _fingerprint(body: bytes | None, declared: int | None, source: str) -> dict[str, Any]:
    """What is kept of a body that is not recorded whole: enough to recognise it, never all of it."""
    size = declared if declared is not None else len(body or b"")
    record: dict[str, Any] = {"source": source, "size": size}
    if body:
        record["sha256"] = hashlib.sha256(body).hexdigest()
        record["head"] = body[:HEAD].decode("utf8", "backslashreplace")
    return record


def _signal_id_in(body: bytes) -> str | None:
    try:
        signal_id = json.loads(body).get("signal_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return signal_id if isinstance(signal_id, str) and len(signal_id) <= 64 and signal_id.isprintable() \
        else None


def _replay_key(payload: dict[str, Any]) -> str | None:
    """The replay guard's key: the position id the signal would open (account + signal id)."""
    try:
        return str(position_id(*signal_key(payload)))
    except InvalidSignal:  # the engine refuses it and records why
        return None


def _parse(body: bytes) -> tuple[dict[str, Any] | None, Refusal | None]:
    try:
        # Decimal: a number is kept exactly as sent (1e400 stays 1e400, not an infinite float)
        payload = json.loads(body, parse_constant=_no_constant, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, Refusal("not_json", 400, "the body is not JSON (UTF-8)")
    if not isinstance(payload, dict):
        return None, Refusal("not_object", 400, "the body must be a JSON object")
    problem = _unstorable(payload)
    if problem:  # recorded as raw text instead
        return None, Refusal("not_object", 400, problem)
    return payload, None


def _unstorable(payload: dict[str, Any]) -> str | None:
    """Why a parsed body cannot be stored as it is: the event transcoder reads a dict keyed
    ``_type_`` as one of its own tagged values, deep nesting exhausts its recursion, and a lone
    surrogate (``"\\ud800"``, legal JSON escape, not text) cannot be encoded as UTF-8."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the body nests deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            if "_type_" in value:
                return 'the key "_type_" is reserved'
            if any(not _is_text(key) for key in value):
                return "a key holds a lone surrogate (\\ud800-\\udfff): not text"
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and not _is_text(value):
            return "a string holds a lone surrogate (\\ud800-\\udfff): not text"
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf8")
    except UnicodeEncodeError:
        return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _answer(http: int, status: str, position_id: str | None, reason: str | None) -> web.Response:
    return web.json_response({"status": status, "position_id": position_id, "reason": reason},
                             status=http)
