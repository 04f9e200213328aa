"""Configuration: the sample file loads, every invalid value is named by its key, the environment
overrides the file, and a secret never shows in a repr, a str or an error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from warden.adapters.config import (
    ConfigError,
    WardenConfig,
    engine_config,
    exchange_config,
    load_config,
    load_intake_settings,
)
from warden.adapters.store import DEFAULT_STORE_URL
from warden.domain.policies import DEFAULT_POLICIES, AgedPhase
from warden.domain.values import Venue
from warden.engine.context import EngineConfig, PhantomPolicy

CANARY = "CANARY-secret-5e7d1b"
EXAMPLE = Path(__file__).resolve().parents[3] / "warden.example.toml"
ENV = {"BYBIT_API_KEY": CANARY + "-key", "BYBIT_API_SECRET": CANARY, "WARDEN_INTAKE_SECRET": CANARY}
MINIMAL = """
[[exchanges]]
venue = "bybit"
rest_url = "http://127.0.0.1:8900"
ws_url = "ws://127.0.0.1:8900"
api_key_env = "BYBIT_API_KEY"
secret_env = "BYBIT_API_SECRET"
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> WardenConfig:
    path = tmp_path / "warden.toml"
    path.write_text(text)
    return load_config(path, ENV if env is None else env)


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env)
    message = str(caught.value)
    assert CANARY not in message
    return message


def test_no_file_means_every_default():
    config = load_config(None, {})
    assert config.store.url == DEFAULT_STORE_URL and config.exchanges == ()
    assert config.intake.skew_seconds == 30 and config.intake.secret is None
    assert engine_config(config).initial_stop.percent == Decimal(2)


def test_the_example_file_loads_and_builds_what_the_engine_and_port_take(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(CANARY + "-binance\n")
    env = {**ENV, "WARDEN_EXCHANGES__1__API_KEY_FILE": str(key_file),
           "WARDEN_EXCHANGES__1__SECRET_FILE": str(key_file)}
    config = load_config(EXAMPLE, env)

    bybit, binance = config.exchanges
    assert (bybit.venue, bybit.rest_url, bybit.stream) == (Venue.BYBIT, "https://api-testnet.bybit.com",
                                                           "ccxtpro")
    assert binance.venue is Venue.BINANCE and binance.secret.get_secret_value() == CANARY + "-binance"
    assert engine_config(config, bybit).initial_stop.percent == Decimal("1.5")  # its override
    assert engine_config(config, binance).initial_stop.percent == Decimal(2)
    engine = engine_config(config)
    assert engine.trailing.callback_percent == Decimal("0.5") and engine.phantom_policy is PhantomPolicy.ADOPT
    assert engine.aged.phases[0] == AgedPhase(0, Decimal("-0.1"))
    port_config = exchange_config(bybit)
    assert (port_config.api_key, port_config.secret) == (CANARY + "-key", CANARY)
    assert config.intake.secret == SecretStr(CANARY) and config.metrics.port == 9108


def test_environment_overrides_the_file(tmp_path):
    env = {**ENV, "WARDEN_INTAKE__PORT": "9000", "WARDEN_EXCHANGES__0__REST_URL": "http://127.0.0.1:1",
           "WARDEN_POLICY__TRAILING_CALLBACK_PERCENT": "0.25", "WARDEN_STORE__URL": "memory://",
           "WARDEN_EXCHANGES__0__POLICY__PHANTOM_POLICY": "close",
           "WARDEN_EXCHANGES__0__POLICY__SCALE_IN": "true"}
    config = load(tmp_path, MINIMAL + '\n[intake]\nport = 8000\n', env)
    assert config.intake.port == 9000 and config.store.url == "memory://"
    assert config.exchanges[0].rest_url == "http://127.0.0.1:1"
    assert config.policy.trailing_callback_percent == Decimal("0.25")
    assert config.exchanges[0].policy.trailing_callback_percent == Decimal("0.25")  # inherits
    assert engine_config(config, config.exchanges[0]).phantom_policy is PhantomPolicy.CLOSE
    assert engine_config(config, config.exchanges[0]).scale_in and not engine_config(config).scale_in


def test_an_array_is_overridden_whole_as_json(tmp_path):
    env = {**ENV, "WARDEN_POLICY__AGED_PHASES": '[{"after_seconds": 0, "accept_loss_percent": "0.2"}]'}
    config = load(tmp_path, MINIMAL, env)
    assert engine_config(config, config.exchanges[0]).aged.phases == (AgedPhase(0, Decimal("0.2")),)


@pytest.mark.parametrize("text, env, expected", [
    (MINIMAL.replace('"bybit"', '"kraken"'), None,
     "exchanges[0].venue: expected 'bybit' or 'binanceusdm', got 'kraken'"),
    (MINIMAL.replace('rest_url = "http', 'rest_url = "ftp'), None,
     "exchanges[0].rest_url: expected a http:// or https:// URL, got a ftp:// one"),
    (MINIMAL.replace('rest_url = "http://127.0.0.1:8900"\n', ""), None, "exchanges[0].rest_url: required"),
    (MINIMAL + 'endpoint = "binance-testnet"\n', None, "exchanges[0].endpoint: 'binance-testnet' is not a"),
    (MINIMAL + 'endpoint = "moon"\n', None, "exchanges[0].endpoint: expected 'bybit-mainnet'"),
    (MINIMAL + 'stream = "fast"\n', None, "exchanges[0].stream: expected 'ccxtpro', 'native' or 'compare'"),
    (MINIMAL, {"BYBIT_API_KEY": "k"},
     "exchanges[0].secret_env: environment variable BYBIT_API_SECRET is not"),
    (MINIMAL + 'api_key_file = "/x"\n', None, "exchanges[0].api_key_env: give either"),
    (MINIMAL.replace('secret_env = "BYBIT_API_SECRET"', 'secret_file = "/nonexistent/s"'), None,
     "exchanges[0].secret_file: cannot read /nonexistent/s"),
    (MINIMAL + MINIMAL, None, "exchanges[1].account: bybit/main is configured twice"),
    (MINIMAL + "ws_keepalive_s = 20\nfeed_quiet_s = 30\n", None,
     "exchanges[0].feed_quiet_s: must be at least twice ws_keepalive_s (20 s)"),
    (MINIMAL + 'colour = "red"\n', None, "exchanges[0].colour: unknown key (known: account, api_key_env,"),
    (MINIMAL + "[exchanges.policy]\ninitial_stop_percent = 0\n", None,
     "exchanges[0].policy.initial_stop_percent: expected a number > 0 and < 100, got 0"),
    # values that parse but cannot work: out of every sane range, or not a URL at all
    (MINIMAL.replace('ws_url = "ws://127.0.0.1:8900"', 'ws_url = "ws://[::1"'), None,
     "exchanges[0].ws_url: not a valid URL (Invalid IPv6 URL)"),
    (MINIMAL.replace('ws_url = "ws://127.0.0.1:8900"', 'ws_url = "ws://127.0.0.1:99999"'), None,
     "exchanges[0].ws_url: not a valid URL (Port out of range 0-65535)"),
    (MINIMAL + 'request_timeout_s = "1e400"\n', None,
     "exchanges[0].request_timeout_s: expected a finite number, got '1e400'"),
    (MINIMAL + "request_timeout_s = 1e9\n", None,
     "exchanges[0].request_timeout_s: expected a number between 0.1 and 300, got 1000000000.0"),
    (MINIMAL + 'ws_keepalive_s = "nan"\n', None, "exchanges[0].ws_keepalive_s: expected a finite number"),
    ("[intake]\nrate_per_second = '1e-30'\n", None,
     "intake.rate_per_second: expected a number between 0.01 and 100000, got '1e-30'"),
    ("[policy]\naged_max_age_seconds = 100000000000000000000\n", None,
     "policy.aged_max_age_seconds: expected an integer between 1 and 31536000"),
    ("[policy]\ntrailing_callback_percent = 'lots'\n", None,
     "policy.trailing_callback_percent: expected a number, got 'lots'"),
    ("[policy]\ntrailing_min_step_ticks = 1.5\n", None,
     "policy.trailing_min_step_ticks: expected an integer, got 1.5"),
    ("[policy]\nphantom_policy = 'ignore'\n", None,
     "policy.phantom_policy: expected 'alert', 'adopt' or 'close', got 'ignore'"),
    ("[policy]\naged_phases = [{after_seconds = 60, accept_loss_percent = 1}, "
     "{after_seconds = 0, accept_loss_percent = 2}]\n", None,
     "policy.aged_phases: after_seconds must strictly increase"),
    ("[policy]\naged_phases = [{after_seconds = 60}]\n", None,
     "policy.aged_phases[0].accept_loss_percent: required"),
    ("[intake]\nport = 70000\n", None, "intake.port: expected an integer between 0 and 65535, got 70000"),
    ("[intake]\nskew_seconds = true\n", None, "intake.skew_seconds: expected an integer, got True"),
    ("[intake]\nsecret_env = 'NOPE'\n", None, "intake.secret_env: environment variable NOPE is not set"),
    ("[intake]\nrate_per_second = -1\n", None, "intake.rate_per_second: expected a number between 0.01"),
    ("[intake]\nhost = ''\n", None, "intake.host: expected a non-empty string"),
    ("[store]\nurl = 'mysql://db'\n", None,
     "store.url: expected a memory://, sqlite://, postgres:// or postgresql:// URL, got a mysql:// one"),
    ("[store]\nurl = 'postgresql://warden@db:5432'\n", None, "store.url: postgresql needs a database name"),
    ("[store]\nurl = 'sqlite:///x'\npassword_env = 'PG'\n", {"PG": "p"}, "store.password_env: only a"),
    ("[metrics]\nport = 'http'\n", None, "metrics.port: expected an integer, got 'http'"),
    ("[engine]\nstop_attempts = 0\n", None,
     "engine.stop_attempts: expected an integer between 1 and 20, got 0"),
    ("[engine]\nstandby = 'maybe'\n", None, "engine.standby: expected true or false, got 'maybe'"),
    ("[sotre]\nurl = 'memory://'\n", None, "sotre: unknown key (known: engine, exchanges, health,"),
    ("exchanges = 'bybit'\n", None, "exchanges: expected an array, got 'bybit'"),
    ("[intake\n", None, "not valid TOML"),
    ("", {**ENV, "WARDEN_INTAKE__PROT": "1"}, "intake.prot: unknown key"),
    ("", {**ENV, "WARDEN_SOTRE__URL": "memory://"}, "WARDEN_SOTRE__URL: sotre is not a section"),
    ("", {**ENV, "WARDEN_ENGINE__STOP_ATTEMPTS": "lots"},
     "engine.stop_attempts: expected an integer, got 'lots'"),
    ("", {**ENV, "WARDEN_POLICY__AGED_PHASES": "[{after_seconds = 0}]"},
     "WARDEN_POLICY__...: an array or table must be given as JSON"),
    ("", {**ENV, "WARDEN_EXCHANGES__0__VENUE": "bybit"},
     "exchanges[0]: not in the file, so WARDEN_EXCHANGES__0__... has nothing to override"),
])
def test_every_invalid_value_is_named_by_its_key(tmp_path, text, env, expected):
    assert expected in error(tmp_path, text, env)


@pytest.mark.parametrize("text", [
    MINIMAL + f'secret = "{CANARY}"\n',
    MINIMAL.replace('api_key_env = "BYBIT_API_KEY"', f'api_key = "{CANARY}"'),
    f'[intake]\nsecret = "{CANARY}"\n',
    f'[store]\npassword = "{CANARY}"\n',
    f'[store]\nurl = "postgresql://warden:{CANARY}@db:5432/warden"\n',
    f'[exchanges.policy]\ntoken = "{CANARY}"\n',
])
def test_a_secret_written_in_the_file_is_refused_without_echoing_it(tmp_path, text):
    message = error(tmp_path, text)  # asserts the canary is not in the message
    assert "_env" in message and "_file" in message


@pytest.mark.parametrize("key, text, env", [
    ("store.url", f'[store]\nurl = "postgresql://warden@db/warden?password={CANARY}"\n', None),
    ("store.url", f'[store]\nurl = "postgresql://warden@db/warden?sslmode=require&sslpassword={CANARY}"\n',
     None),
    ("store.url", "", {**ENV, "WARDEN_STORE": f"postgresql://warden:{CANARY}@db/warden"}),
    ("store.url", "", {**ENV, "WARDEN_STORE__URL": f"postgresql://warden:{CANARY}@db/warden"}),
    ("exchanges[0].rest_url", MINIMAL.replace("http://127.0.0.1", f"http://me:{CANARY}@127.0.0.1"), None),
    ("exchanges[0].rest_url", MINIMAL.replace(":8900\"", f":8900/?api_key={CANARY}\"", 1), None),
    ("exchanges[0].ws_url", MINIMAL.replace("ws://127.0.0.1:8900", f"ws://127.0.0.1:8900/?token={CANARY}"),
     None),
    ("exchanges[0].ws_url", MINIMAL, {**ENV, "WARDEN_EXCHANGES__0__WS_URL": f"wss://u:{CANARY}@h"}),
])
def test_a_password_anywhere_in_a_url_is_refused_by_the_urls_key(tmp_path, key, text, env):
    message = error(tmp_path, text, env)  # asserts the canary is not in the message
    assert message.startswith(f"{key}: contains a password; warden never reads one from a URL")
    assert "password_env" in message if key == "store.url" else "secret_env" in message


def test_a_url_without_a_password_keeps_its_user_and_harmless_query(tmp_path):
    config = load(tmp_path, MINIMAL + '[store]\nurl = "postgresql://warden@db:5432/warden?sslmode=require"\n')
    assert config.store.url == "postgresql://warden@db:5432/warden?sslmode=require"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read: No such file or directory"):
        load_config(tmp_path / "nope.toml", ENV)


def test_the_policy_defaults_are_the_domains_and_the_engine_knobs_the_engines():
    config = load_config(None, {})
    assert config.policy.policies() == DEFAULT_POLICIES
    assert engine_config(config) == EngineConfig()  # nothing configured: the engine's own defaults


def test_a_secret_in_the_override_environment_is_refused_too(tmp_path):
    message = error(tmp_path, "", {"WARDEN_INTAKE__SECRET": CANARY})
    assert message.startswith("intake.secret: secrets are never read")


def test_secrets_never_show_in_repr_or_str(tmp_path):
    (tmp_path / "pg").write_text(CANARY)
    config = load(tmp_path, MINIMAL + f'[store]\nurl = "postgresql://warden@db/warden"\n'
                                      f'password_file = "{tmp_path / "pg"}"\n')
    shown = [repr(config), str(config), repr(config.exchanges[0]), f"{config.intake.secret}",
             config.model_dump_json(), str(config.model_dump()),
             str(config.store.password), repr(exchange_config(config.exchanges[0]))]
    assert all(CANARY not in text for text in shown)
    assert "***" in repr(config.exchanges[0])
    assert config.store.url_with_password() == f"postgresql://warden:{CANARY}@db/warden"


def test_the_signal_client_reads_only_the_intake(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text(MINIMAL + "[intake]\nport = 9999\n")
    intake = load_intake_settings(path, {"WARDEN_INTAKE_SECRET": CANARY})  # no exchange keys needed
    assert intake.port == 9999 and intake.secret is not None and intake.secret.get_secret_value() == CANARY
