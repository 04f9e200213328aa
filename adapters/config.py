"""warden's configuration, on pydantic-settings: a TOML file, environment overrides, secrets from the
environment or files.

`load_config(path, env)` reads the file (None: every default) with pydantic-settings' TOML source,
lays the ``WARDEN_<SECTION>__<KEY>`` overrides from ``env`` over it with its environment source, and
validates the result into a frozen `WardenConfig`; anything wrong raises `ConfigError`, one line
naming the key. Secrets (exchange keys, the webhook secret, the database password) are never read
from the TOML: a key is given as ``*_env`` (a variable name) or ``*_file`` (a path) and the value is
held in a `SecretStr`. The policy defaults are the domain's (`domain.policies.DEFAULT_POLICIES`),
the engine's are `EngineConfig`'s. See docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from warden.adapters.config_sources import environment_source, overlay, refuse_inline_secrets, toml_source
from warden.adapters.config_types import (
    ConfigError,
    Int,
    Number,
    Percent,
    Seconds,
    Text,
    Url,
    describe,
    invalid,
    resolve_secret,
    secrets_from,
)
from warden.adapters.exchange.config import KNOWN_ENDPOINTS, ExchangeConfig
from warden.adapters.store import DEFAULT_STORE_URL
from warden.domain.policies import (
    DEFAULT_POLICIES,
    AgedExitPolicy,
    AgedPhase,
    InitialStopPolicy,
    Policies,
    TrailingStopPolicy,
)
from warden.domain.values import PhantomPolicy, Venue
from warden.engine.context import EngineConfig

__all__ = ["ConfigError", "IntakeSettings", "WardenConfig", "engine_config", "exchange_config",
           "load_config", "load_intake_settings", "load_policy_settings", "policy_config"]

ENV_PREFIX = "WARDEN_"
DEFAULT_INTAKE_SECRET_ENV = "WARDEN_INTAKE_SECRET"
YEAR = 365 * 86400
Port = Int(0, 65535)
Attempts = Int(1, 20)
Endpoint = Literal[tuple(KNOWN_ENDPOINTS)]
_EXCHANGE_SECRETS = "the exchange key and secret go in api_key_env/secret_env or api_key_file/secret_file"
_ENGINE = EngineConfig()


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


# ----- [policy] -------------------------------------------------------------------------------
class AgedPhaseSettings(Section):
    after_seconds: Int(0, YEAR)
    accept_loss_percent: Number(ge=-100, lt=100)


_STOP, _TRAIL, _AGED = DEFAULT_POLICIES.initial_stop, DEFAULT_POLICIES.trailing, DEFAULT_POLICIES.aged


class PolicySettings(Section):
    """``[policy]``, and an account's ``[exchanges.policy]`` (which inherits every key it omits)."""

    initial_stop_percent: Percent = _STOP.percent
    trailing_activation_percent: Percent = _TRAIL.activation_percent
    trailing_callback_percent: Percent = _TRAIL.callback_percent
    trailing_min_step_ticks: Int(1, 1_000_000) = _TRAIL.min_step_ticks
    trailing_min_interval_seconds: Number(ge=0, le=86400) = _TRAIL.min_interval_seconds
    aged_max_age_seconds: Int(1, YEAR) = _AGED.max_age_seconds
    aged_phases: tuple[AgedPhaseSettings, ...] = tuple(
        AgedPhaseSettings(after_seconds=p.after_seconds, accept_loss_percent=p.accept_loss_percent)
        for p in _AGED.phases)
    aged_hard_limit_seconds: Int(1, YEAR) = _AGED.hard_limit_seconds
    phantom_policy: PhantomPolicy = DEFAULT_POLICIES.phantom
    scale_in: bool = DEFAULT_POLICIES.scale_in

    @field_validator("aged_phases")
    @classmethod
    def _increasing(cls, phases: tuple[AgedPhaseSettings, ...]) -> tuple[AgedPhaseSettings, ...]:
        starts = [p.after_seconds for p in phases]
        if starts != sorted(set(starts)):
            raise invalid("after_seconds must strictly increase")
        return phases

    def policies(self) -> Policies:
        return Policies(
            InitialStopPolicy(self.initial_stop_percent),
            TrailingStopPolicy(self.trailing_activation_percent, self.trailing_callback_percent,
                               self.trailing_min_step_ticks, self.trailing_min_interval_seconds),
            AgedExitPolicy(self.aged_max_age_seconds,
                           tuple(AgedPhase(p.after_seconds, p.accept_loss_percent) for p in self.aged_phases),
                           self.aged_hard_limit_seconds),
            self.phantom_policy, self.scale_in)


# ----- [engine], [store] ----------------------------------------------------------------------
class EngineSettings(Section):
    stop_attempts: Attempts = _ENGINE.stop_attempts
    fill_timeout_s: Seconds(0.1, 600) = _ENGINE.fill_timeout_s
    fill_rounds: Attempts = _ENGINE.fill_rounds
    reconcile_interval_s: Seconds(0.1, 86400) = _ENGINE.reconcile_interval_s
    standby: bool = False  # a second instance waits to take over instead of exiting
    lock_grace_s: Seconds(0, 600) = 3.0  # on PostgreSQL: locks held this long before trading
    startup_budget_s: Seconds(1, 3600) = 60.0  # retrying an unreachable store or exchange at start


def _store_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "sqlite" and not (parts.netloc + parts.path).strip("/"):
        raise invalid("sqlite needs a file path: sqlite:///PATH")
    if parts.scheme.startswith("postgres") and not parts.path.strip("/"):
        raise invalid("postgresql needs a database name: postgresql://USER@HOST:PORT/DB")
    return url


StoreUrl = Annotated[Url(("memory", "sqlite", "postgres", "postgresql"),
                         "give it with store.password_env or store.password_file", needs_host=False),
                     AfterValidator(_store_url)]


class StoreSettings(Section):
    url: StoreUrl = DEFAULT_STORE_URL
    password_env: Text | None = None
    password_file: Text | None = None
    password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_password(cls, data: Any) -> Any:
        return resolve_secret(data, "password", required=False)

    @model_validator(mode="after")
    def _checked(self) -> StoreSettings:
        if self.password is not None and not self.url.startswith("postgres"):
            raise invalid("only a postgresql store takes a password",
                          "password_file" if self.password_file else "password_env")
        return self

    def url_with_password(self) -> str:
        """The URL to open the store with (the password put back in); never log it."""
        if self.password is None:
            return self.url
        parts = urlsplit(self.url)
        netloc = f"{parts.username or 'postgres'}:{quote(self.password.get_secret_value(), safe='')}@" + \
            parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=netloc).geturl()


# ----- [[exchanges]] --------------------------------------------------------------------------
class ExchangeSettings(Section):
    venue: Venue
    account: Text = "main"
    endpoint: Endpoint | None = None
    rest_url: Url(("http", "https"), _EXCHANGE_SECRETS) | None = None
    ws_url: Url(("ws", "wss"), _EXCHANGE_SECRETS) | None = None
    stream: Literal["ccxtpro", "native", "compare"] = "ccxtpro"
    api_key_env: Text | None = None
    api_key_file: Text | None = None
    secret_env: Text | None = None
    secret_file: Text | None = None
    api_key: SecretStr
    secret: SecretStr
    request_timeout_s: Seconds(0.1, 300) = 10.0
    recv_window_ms: Int(1, 60_000) = 10_000
    ws_keepalive_s: Seconds(1, 300) = 18.0
    feed_quiet_s: Seconds(2, 3600) = 60.0
    policy: PolicySettings = Field(default_factory=PolicySettings)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("venue"), str):  # "binance" is an alias, any case
            venue = data["venue"].strip().lower()
            data = {**data, "venue": "binanceusdm" if venue == "binance" else venue}
        if data.get("endpoint") in KNOWN_ENDPOINTS:  # fills in the URLs not given
            rest, ws = KNOWN_ENDPOINTS[data["endpoint"]]
            data = {"rest_url": rest, "ws_url": ws, **data}
        for name in ("api_key", "secret"):
            data = resolve_secret(data, name, required=True)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ExchangeSettings:
        if self.endpoint is not None and (self.venue is Venue.BYBIT) != self.endpoint.startswith("bybit"):
            raise invalid(f"{self.endpoint!r} is not a {self.venue.value} endpoint", "endpoint")
        for key in ("rest_url", "ws_url"):
            if getattr(self, key) is None:
                raise invalid(f"required unless endpoint names a known one ({', '.join(KNOWN_ENDPOINTS)})",
                              key)
        if self.feed_quiet_s < 2 * self.ws_keepalive_s:
            # quieter than two heartbeats is normal for an idle account: it would restart healthy feeds
            raise invalid(f"must be at least twice ws_keepalive_s ({self.ws_keepalive_s:g} s)",
                          "feed_quiet_s")
        return self


# ----- [intake], [metrics], [health] ------------------------------------------------------------
class IntakeSettings(Section):
    host: Text = "127.0.0.1"
    port: Port = 8787
    secret_env: Text | None = None
    secret_file: Text | None = None
    secret: SecretStr | None = None  # None: no webhook secret configured, the intake cannot run
    max_body_bytes: Int(64, 16 * 1024 * 1024) = 64 * 1024
    skew_seconds: Int(1, 3600) = 30
    rate_per_second: Number(ge=Decimal("0.01"), le=100_000) = Decimal(20)
    rate_burst: Int(1, 100_000) = 40
    # requests that fail authentication, per source address, and slow clients (docs/intake.md)
    unauthenticated_per_second: Number(ge=Decimal("0.01"), le=100_000) = Decimal(1)
    unauthenticated_burst: Int(1, 100_000) = 10
    header_timeout_seconds: Seconds(0.05, 3600) = 5.0
    body_timeout_seconds: Seconds(0.05, 3600) = 10.0
    idle_timeout_seconds: Seconds(0.05, 3600) = 30.0
    max_connections: Int(1, 65_535) = 256
    max_connections_per_source: Int(1, 65_535) = 32

    @model_validator(mode="before")
    @classmethod
    def _read_secret(cls, data: Any) -> Any:
        return resolve_secret(data, "secret", required=False, default_env=DEFAULT_INTAKE_SECRET_ENV)


class Listen(Section):
    host: Text = "127.0.0.1"
    port: Port = 0


# ----- the whole ------------------------------------------------------------------------------
class WardenConfig(BaseSettings):
    """Validated by `load_config`; built directly (``WardenConfig()``) it reads nothing: defaults."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False,
                                      extra="forbid", frozen=True, hide_input_in_errors=True)

    store: StoreSettings = Field(default_factory=StoreSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    exchanges: tuple[ExchangeSettings, ...] = ()
    engine: EngineSettings = Field(default_factory=EngineSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    metrics: Listen = Field(default_factory=lambda: Listen(port=9108))
    health: Listen = Field(default_factory=lambda: Listen(port=8788))

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                   *_: Any, **__: Any) -> tuple[Any, ...]:
        return (init_settings,)  # the file and the environment are read by `load_config`, explicitly

    @model_validator(mode="before")
    @classmethod
    def _inherit_policy(cls, data: Any) -> Any:
        """Each account's ``[exchanges.policy]`` starts from ``[policy]``."""
        if not isinstance(data, dict) or not isinstance(data.get("exchanges"), list):
            return data
        base = data.get("policy", {})
        if not isinstance(base, dict):
            return data
        return {**data, "exchanges": [
            {**e, "policy": {**base, **e.get("policy", {})}}
            if isinstance(e, dict) and isinstance(e.get("policy", {}), dict) else e
            for e in data["exchanges"]]}

    @model_validator(mode="after")
    def _accounts_unique(self) -> WardenConfig:
        seen: set[tuple[Venue, str]] = set()
        for i, ex in enumerate(self.exchanges):
            if (ex.venue, ex.account) in seen:
                raise invalid(f"{ex.venue.value}/{ex.account} is configured twice", f"exchanges[{i}].account")
            seen.add((ex.venue, ex.account))
        return self


# ----- loading --------------------------------------------------------------------------------
def _raw(path: str | Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """The file, under the environment's overrides, over ``$WARDEN_STORE`` as the store's default."""
    data = {"store": {"url": env["WARDEN_STORE"]}} if env.get("WARDEN_STORE") else {}
    overrides = environment_source(WardenConfig, env)
    data = overlay(overlay(data, toml_source(WardenConfig, path)), overrides, prefix=ENV_PREFIX)
    refuse_inline_secrets(data)
    for section in ("store", "intake"):  # validated with the environment even when absent
        data.setdefault(section, {})
    return data


def load_config(path: str | Path | None, env: Mapping[str, str]) -> WardenConfig:
    """The configuration in ``path`` (None: all defaults) with ``env``'s overrides and secrets."""
    try:
        with secrets_from(env):
            return WardenConfig.model_validate(_raw(path, env))
    except ValidationError as e:
        raise ConfigError(describe(e, WardenConfig)) from None


def load_intake_settings(path: str | Path | None, env: Mapping[str, str]) -> IntakeSettings:
    """Only ``[intake]`` (what `warden signal` needs): exchange secrets need not be present."""
    try:
        with secrets_from(env):
            return IntakeSettings.model_validate(_raw(path, env)["intake"])
    except ValidationError as e:
        raise ConfigError(describe(e, IntakeSettings, at=("intake",))) from None


def load_policy_settings(path: str | Path | None, overrides: Mapping[str, str]) -> PolicySettings:
    """Only the top-level ``[policy]`` of ``path`` (None: the defaults) with single keys replaced
    by ``overrides`` (what `warden whatif` takes): no store, exchanges or secrets are read."""
    table = toml_source(WardenConfig, path).get("policy", {})
    if not isinstance(table, dict):
        raise ConfigError(f"policy: expected a table, got {type(table).__name__}")
    try:
        return PolicySettings.model_validate({**table, **overrides})
    except ValidationError as e:
        raise ConfigError(describe(e, PolicySettings, at=("policy",))) from None


# ----- what the engine and the exchange port take -----------------------------------------------
def policy_config(p: PolicySettings) -> EngineConfig:
    """An engine configuration with these policies and every other setting at its default."""
    policies = p.policies()
    return EngineConfig(initial_stop=policies.initial_stop, trailing=policies.trailing, aged=policies.aged,
                        phantom_policy=policies.phantom)


def engine_config(config: WardenConfig, exchange: ExchangeSettings | None = None) -> EngineConfig:
    """The engine's policies: the top-level ``[policy]``, or one account's (with its overrides)."""
    p, e = (exchange.policy if exchange else config.policy).policies(), config.engine
    return EngineConfig(initial_stop=p.initial_stop, trailing=p.trailing, aged=p.aged,
                        phantom_policy=p.phantom, scale_in=p.scale_in,
                        stop_attempts=e.stop_attempts,
                        fill_timeout_s=e.fill_timeout_s, fill_rounds=e.fill_rounds,
                        reconcile_interval_s=e.reconcile_interval_s)


def exchange_config(exchange: ExchangeSettings) -> ExchangeConfig:
    return ExchangeConfig(venue=exchange.venue, account=exchange.account,
                          api_key=exchange.api_key.get_secret_value(),
                          secret=exchange.secret.get_secret_value(),
                          rest_url=exchange.rest_url, ws_url=exchange.ws_url,
                          request_timeout_s=exchange.request_timeout_s,
                          recv_window_ms=exchange.recv_window_ms, ws_keepalive_s=exchange.ws_keepalive_s,
                          feed_quiet_s=exchange.feed_quiet_s)
