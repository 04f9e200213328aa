"""warden's configuration: a TOML file, environment overrides, secrets from the environment or files.

`load_config(path, env)` reads the file (None: every default), applies ``WARDEN_<SECTION>__<KEY>``
overrides from ``env`` and returns a frozen `WardenConfig`; anything wrong raises `ConfigError`
naming the key. Secrets (exchange keys, the webhook secret, the database password) are never read
from the TOML: a key is given as ``*_env`` (a variable name) or ``*_file`` (a path) and the value is
held in a `Secret`, whose ``repr``/``str`` is ``***``. The last functions build the objects the
engine and the exchange port take. See docs/configuration.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from warden.adapters.config_values import (
    ConfigError,
    Secret,
    Table,
    read_bool,
    read_choice,
    read_decimal,
    read_int,
    read_seconds,
    read_text,
    read_url,
)
from warden.adapters.exchange.config import KNOWN_ENDPOINTS, ExchangeConfig
from warden.adapters.store import DEFAULT_STORE_URL
from warden.domain.policies import AgedExitPolicy, AgedPhase, InitialStopPolicy, TrailingStopPolicy
from warden.domain.values import Venue
from warden.engine.context import EngineConfig, PhantomPolicy

ENV_PREFIX = "WARDEN_"
DEFAULT_INTAKE_SECRET_ENV = "WARDEN_INTAKE_SECRET"
_SECRET_WORDS = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|apikey|passphrase|private_key)$")
_VENUES = {"bybit": Venue.BYBIT, "binanceusdm": Venue.BINANCE, "binance": Venue.BINANCE}
_STREAMS = ("ccxtpro", "native", "compare")


@dataclass(frozen=True)
class PolicySettings:
    initial_stop_percent: Decimal = Decimal(2)
    trailing_activation_percent: Decimal = Decimal("1.5")
    trailing_callback_percent: Decimal = Decimal("0.5")
    trailing_min_step_ticks: int = 1
    trailing_min_interval_seconds: Decimal = Decimal(1)
    aged_max_age_seconds: int = 6 * 3600
    aged_phases: tuple[AgedPhase, ...] = AgedExitPolicy().phases
    aged_hard_limit_seconds: int = 2 * 3600
    phantom_policy: PhantomPolicy = PhantomPolicy.ADOPT


@dataclass(frozen=True)
class EngineSettings:
    stop_attempts: int = 3
    fill_timeout_s: float = 5.0
    fill_rounds: int = 3
    reconcile_interval_s: float = 30.0
    standby: bool = False  # a second instance waits to take over instead of exiting


@dataclass(frozen=True)
class StoreSettings:
    url: str = DEFAULT_STORE_URL
    password: Secret | None = None

    def url_with_password(self) -> str:
        """The URL to open the store with (the password put back in); never log it."""
        if self.password is None:
            return self.url
        parts = urlsplit(self.url)
        netloc = f"{parts.username or 'postgres'}:{quote(self.password.reveal(), safe='')}@" + \
            parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class ExchangeSettings:
    venue: Venue
    account: str
    rest_url: str
    ws_url: str
    api_key: Secret
    secret: Secret
    stream: str = "ccxtpro"
    endpoint: str | None = None
    request_timeout_s: float = 10.0
    recv_window_ms: int = 10_000
    ws_keepalive_s: float = 18.0
    feed_quiet_s: float = 60.0
    policy: PolicySettings = field(default_factory=PolicySettings)


@dataclass(frozen=True)
class IntakeSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    secret: Secret | None = None  # None: no webhook secret configured, the intake cannot run
    max_body_bytes: int = 64 * 1024
    skew_seconds: int = 30
    rate_per_second: Decimal = Decimal(20)
    rate_burst: int = 40


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class WardenConfig:
    store: StoreSettings = field(default_factory=StoreSettings)
    exchanges: tuple[ExchangeSettings, ...] = ()
    policy: PolicySettings = field(default_factory=PolicySettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    metrics: Listen = field(default_factory=lambda: Listen(port=9108))
    health: Listen = field(default_factory=lambda: Listen(port=8788))


# ----- sections ---------------------------------------------------------------------------------
_PERCENT = read_decimal(Decimal(0), Decimal(100), strict_low=True)


def _policy(t: Table, base: PolicySettings) -> PolicySettings:
    phases = t.get("aged_phases", None, _phases)
    policy = PolicySettings(
        initial_stop_percent=t.get("initial_stop_percent", base.initial_stop_percent, _PERCENT),
        trailing_activation_percent=t.get("trailing_activation_percent",
                                          base.trailing_activation_percent, _PERCENT),
        trailing_callback_percent=t.get("trailing_callback_percent", base.trailing_callback_percent,
                                        _PERCENT),
        trailing_min_step_ticks=t.get("trailing_min_step_ticks", base.trailing_min_step_ticks, read_int(1)),
        trailing_min_interval_seconds=t.get("trailing_min_interval_seconds",
                                            base.trailing_min_interval_seconds, read_decimal(Decimal(0))),
        aged_max_age_seconds=t.get("aged_max_age_seconds", base.aged_max_age_seconds, read_int(1)),
        aged_phases=base.aged_phases if phases is None else phases,
        aged_hard_limit_seconds=t.get("aged_hard_limit_seconds", base.aged_hard_limit_seconds, read_int(1)),
        phantom_policy=t.get("phantom_policy", base.phantom_policy,
                             read_choice({p.value: p for p in PhantomPolicy})))
    t.done()
    return policy


def _phases(key: str, value: Any) -> tuple[AgedPhase, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected an array of {{after_seconds, accept_loss_percent}} tables")
    phases = []
    for i, item in enumerate(value):
        t = Table(item, f"{key}[{i}]", {})
        loss = read_decimal(Decimal(-100), Decimal(100))
        phases.append(AgedPhase(t.get("after_seconds", None, read_int(0)),
                                t.get("accept_loss_percent", None, loss)))
        if None in (phases[-1].after_seconds, phases[-1].accept_loss_percent):
            raise ConfigError(f"{key}[{i}]: needs after_seconds and accept_loss_percent")
        t.done()
    if [p.after_seconds for p in phases] != sorted({p.after_seconds for p in phases}):
        raise ConfigError(f"{key}: after_seconds must strictly increase")
    return tuple(phases)


def _exchange(t: Table, policy: PolicySettings) -> ExchangeSettings:
    venue = t.get("venue", None, read_choice(_VENUES))
    if venue is None:
        raise ConfigError(f"{t.key('venue')}: required")
    endpoint = t.get("endpoint", None, read_choice({name: name for name in KNOWN_ENDPOINTS}))
    rest = t.get("rest_url", None, read_url(("http", "https")))
    ws = t.get("ws_url", None, read_url(("ws", "wss")))
    if endpoint is not None:
        if (venue is Venue.BYBIT) != endpoint.startswith("bybit"):
            raise ConfigError(f"{t.key('endpoint')}: {endpoint!r} is not a {venue.value} endpoint")
        rest, ws = rest or KNOWN_ENDPOINTS[endpoint][0], ws or KNOWN_ENDPOINTS[endpoint][1]
    if rest is None or ws is None:
        missing = "rest_url" if rest is None else "ws_url"
        raise ConfigError(f"{t.key(missing)}: required unless endpoint names a known one "
                          f"({', '.join(KNOWN_ENDPOINTS)})")
    stream = t.get("stream", "ccxtpro", read_choice({s: s for s in _STREAMS}))
    if stream != "ccxtpro" and venue is not Venue.BYBIT:
        raise ConfigError(f"{t.key('stream')}: {stream!r} exists for bybit only; use \"ccxtpro\"")
    settings = ExchangeSettings(
        venue=venue, account=t.get("account", "main", read_text), rest_url=rest, ws_url=ws,
        api_key=t.secret("api_key", required=True), secret=t.secret("secret", required=True),
        stream=stream, endpoint=endpoint,
        request_timeout_s=t.get("request_timeout_s", 10.0, read_seconds),
        recv_window_ms=t.get("recv_window_ms", 10_000, read_int(1, 60_000)),
        ws_keepalive_s=t.get("ws_keepalive_s", 18.0, read_seconds),
        feed_quiet_s=t.get("feed_quiet_s", 60.0, read_seconds),
        policy=_policy(t.table("policy"), policy))
    t.done()
    if settings.feed_quiet_s < 2 * settings.ws_keepalive_s:
        # quieter than two heartbeats is normal for an idle account: it would restart healthy feeds
        raise ConfigError(f"{t.key('feed_quiet_s')}: must be at least twice ws_keepalive_s "
                          f"({settings.ws_keepalive_s:g} s)")
    return settings


def _store(t: Table) -> StoreSettings:
    url = t.get("url", t.env.get(f"{ENV_PREFIX}STORE") or DEFAULT_STORE_URL, read_text)
    parts = urlsplit(url)
    if parts.scheme not in ("memory", "sqlite", "postgres", "postgresql"):
        raise ConfigError(f"{t.key('url')}: expected memory://, sqlite:///PATH or postgresql://..., "
                          f"got a {parts.scheme or 'schemeless'} URL")
    if parts.password is not None:  # never echo it back: the URL is not shown
        raise ConfigError(f"{t.key('url')}: contains a password; give it with "
                          f"{t.key('password_env')} or {t.key('password_file')}")
    password = t.secret("password", required=False)
    if password is not None and not parts.scheme.startswith("postgres"):
        raise ConfigError(f"{t.key('password_env')}: only a postgresql store takes a password")
    t.done()
    return StoreSettings(url, password)


def _intake(t: Table) -> IntakeSettings:
    settings = IntakeSettings(
        host=t.get("host", "127.0.0.1", read_text), port=t.get("port", 8787, read_int(0, 65535)),
        secret=t.secret("secret", required=False, default_env=DEFAULT_INTAKE_SECRET_ENV),
        max_body_bytes=t.get("max_body_bytes", 64 * 1024, read_int(64, 16 * 1024 * 1024)),
        skew_seconds=t.get("skew_seconds", 30, read_int(1, 3600)),
        rate_per_second=t.get("rate_per_second", Decimal(20), read_decimal(Decimal(0), strict_low=True)),
        rate_burst=t.get("rate_burst", 40, read_int(1)))
    t.done()
    return settings


def _listen(t: Table, port: int) -> Listen:
    listen = Listen(t.get("host", "127.0.0.1", read_text), t.get("port", port, read_int(0, 65535)))
    t.done()
    return listen


def _engine(t: Table) -> EngineSettings:
    settings = EngineSettings(t.get("stop_attempts", 3, read_int(1, 20)),
                              t.get("fill_timeout_s", 5.0, read_seconds),
                              t.get("fill_rounds", 3, read_int(1, 20)),
                              t.get("reconcile_interval_s", 30.0, read_seconds),
                              t.get("standby", False, read_bool))
    t.done()
    return settings


# ----- loading ----------------------------------------------------------------------------------
def _read(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:  # the message quotes no values, only a position
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _refuse_inline_secrets(data: Any, path: str = "") -> None:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key
        if isinstance(key, str) and _SECRET_WORDS.search(key.lower()):
            raise ConfigError(f"{where}: secrets are never read from the configuration; "
                              f"name a variable with {key}_env or a file with {key}_file")
        _refuse_inline_secrets(value, where)


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``WARDEN_INTAKE__PORT=9000`` sets ``intake.port``; ``WARDEN_EXCHANGES__0__REST_URL`` the
    first exchange's ``rest_url``. Values stay strings and are read like the TOML's."""
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name.removeprefix(ENV_PREFIX).split("__")]
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"{name}: there is no {'.'.join(parts[:i])}[{part}] in the file")
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            if not isinstance(node, dict | list):
                raise ConfigError(f"{name}: {'.'.join(parts[:i + 1])} is not a table")
        if not isinstance(node, dict):
            raise ConfigError(f"{name}: {'.'.join(parts[:-1])} is not a table")
        node[parts[-1]] = env[name]


def load_config(path: str | Path | None, env: Mapping[str, str]) -> WardenConfig:
    """The configuration in ``path`` (None: all defaults) with ``env``'s overrides and secrets."""
    data = _read(path)
    _apply_env(data, env)
    _refuse_inline_secrets(data)
    root = Table(data, "", env)
    policy = _policy(root.table("policy"), PolicySettings())
    raw_exchanges = data.get("exchanges", [])
    root.used.add("exchanges")
    if not isinstance(raw_exchanges, list):
        raise ConfigError("exchanges: expected an array of tables ([[exchanges]])")
    exchanges = tuple(_exchange(Table(e, f"exchanges[{i}]", env), policy)
                      for i, e in enumerate(raw_exchanges))
    seen: set[tuple[Venue, str]] = set()
    for i, ex in enumerate(exchanges):
        if (ex.venue, ex.account) in seen:
            raise ConfigError(f"exchanges[{i}].account: {ex.venue.value}/{ex.account} is configured twice")
        seen.add((ex.venue, ex.account))
    config = WardenConfig(store=_store(root.table("store")), exchanges=exchanges, policy=policy,
                          engine=_engine(root.table("engine")), intake=_intake(root.table("intake")),
                          metrics=_listen(root.table("metrics"), 9108),
                          health=_listen(root.table("health"), 8788))
    root.done()
    return config


def load_intake_settings(path: str | Path | None, env: Mapping[str, str]) -> IntakeSettings:
    """Only ``[intake]`` (what `warden signal` needs): exchange secrets need not be present."""
    data = _read(path)
    _apply_env(data, env)
    _refuse_inline_secrets(data)
    return _intake(Table(data.get("intake", {}), "intake", env))


# ----- what the engine and the exchange port take -----------------------------------------------
def initial_stop_policy(p: PolicySettings) -> InitialStopPolicy:
    return InitialStopPolicy(p.initial_stop_percent)


def trailing_policy(p: PolicySettings) -> TrailingStopPolicy:
    return TrailingStopPolicy(p.trailing_activation_percent, p.trailing_callback_percent,
                              p.trailing_min_step_ticks, p.trailing_min_interval_seconds)


def aged_policy(p: PolicySettings) -> AgedExitPolicy:
    return AgedExitPolicy(p.aged_max_age_seconds, p.aged_phases, p.aged_hard_limit_seconds)


def engine_config(config: WardenConfig, exchange: ExchangeSettings | None = None) -> EngineConfig:
    """The engine's policies: the top-level ``[policy]``, or one account's (with its overrides)."""
    p, e = (exchange.policy if exchange else config.policy), config.engine
    return EngineConfig(initial_stop=initial_stop_policy(p), trailing=trailing_policy(p),
                        aged=aged_policy(p), phantom_policy=p.phantom_policy,
                        stop_attempts=e.stop_attempts, fill_timeout_s=e.fill_timeout_s,
                        fill_rounds=e.fill_rounds, reconcile_interval_s=e.reconcile_interval_s)


def exchange_config(exchange: ExchangeSettings) -> ExchangeConfig:
    return ExchangeConfig(venue=exchange.venue, account=exchange.account,
                          api_key=exchange.api_key.reveal(), secret=exchange.secret.reveal(),
                          rest_url=exchange.rest_url, ws_url=exchange.ws_url,
                          request_timeout_s=exchange.request_timeout_s,
                          recv_window_ms=exchange.recv_window_ms, ws_keepalive_s=exchange.ws_keepalive_s,
                          feed_quiet_s=exchange.feed_quiet_s)
