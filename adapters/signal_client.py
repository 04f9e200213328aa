"""`warden signal`: post signed signals to a running intake and print what it answered.

`post_signals` signs each body as the intake expects (`adapters.intake.sign`) and returns one
`Answer` per signal; `signal_command` is the click command (registered by app.py) that reads the
signals from its options, a JSON Lines file or stdin, and the secret from the configuration.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import click
from pydantic import SecretStr

from warden.adapters.config import ConfigError, load_intake_settings
from warden.adapters.intake import NONCE, SIGNATURE, TIMESTAMP, sign


@dataclass(frozen=True)
class Answer:
    label: str  # the signal id, or "line N" when the line has none
    http: int | None  # None: no answer (connection refused, timeout)
    status: str
    position_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "duplicate")

    def line(self) -> str:
        parts = [self.label, str(self.http or "-"), self.status]
        if self.position_id:
            parts.append(f"position={self.position_id}")
        if self.reason:
            parts.append(f"reason={self.reason}")
        return "  ".join(parts)


def signed_headers(secret: SecretStr, body: bytes, *, timestamp: int | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    return {"Content-Type": "application/json", TIMESTAMP: stamp, NONCE: nonce,
            SIGNATURE: sign(secret.get_secret_value().encode(), stamp, nonce, body)}


def _label(body: bytes, index: int) -> str:
    try:
        signal_id = json.loads(body).get("signal_id")
    except (ValueError, AttributeError):
        signal_id = None
    return signal_id if isinstance(signal_id, str) and signal_id else f"line {index}"


async def post_signals(url: str, secret: SecretStr, bodies: Iterable[bytes], *,
                       timeout_s: float = 10.0) -> list[Answer]:
    """Post each body in turn (a fresh timestamp and nonce each) and collect the answers."""
    answers = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for index, body in enumerate(bodies, start=1):
            label = _label(body, index)
            try:
                async with session.post(url, data=body, headers=signed_headers(secret, body)) as response:
                    text = await response.text()
                    try:
                        data = json.loads(text)
                    except ValueError:
                        data = {"status": "error", "reason": text[:200]}
                    answers.append(Answer(label, response.status, str(data.get("status")),
                                          data.get("position_id"), data.get("reason")))
            except (aiohttp.ClientError, TimeoutError) as e:
                answers.append(Answer(label, None, "error", reason=f"no answer from {url}: "
                                      f"{type(e).__name__} {e}".strip()))
    return answers


def _from_options(options: dict[str, Any]) -> bytes:
    payload = {key: value for key, value in options.items() if value is not None}
    payload.setdefault("signal_id", f"cli-{secrets.token_hex(6)}")
    return json.dumps(payload, separators=(",", ":")).encode()


@click.command("signal", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", help="The intake's signals URL. Default: http://HOST:PORT/signals from [intake].")
@click.option("--config", "config_path", envvar="WARDEN_CONFIG", type=click.Path(dir_okay=False),
              help="warden TOML config (for the secret and the URL). Default: $WARDEN_CONFIG, else "
                   "defaults: the secret from $WARDEN_INTAKE_SECRET.")
@click.option("--file", "-f", "source", type=click.File("rb"),
              help="Post every line of this JSON Lines file ('-': stdin), one signal per line.")
@click.option("--id", "signal_id", help="signal_id (default: a random cli-... id).")
@click.option("--exchange", type=click.Choice(["bybit", "binanceusdm", "binance"]))
@click.option("--account", default="main", show_default=True)
@click.option("--symbol")
@click.option("--side", type=click.Choice(["long", "buy", "short", "sell"]))
@click.option("--quantity")
@click.option("--notional")
@click.option("--stop-loss-percent")
@click.option("--trailing-activation-percent")
@click.option("--trailing-callback-percent")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each answer.")
def signal_command(url: str | None, config_path: str | None, source: Any, timeout: float,
                   **fields: Any) -> None:
    """Post signed signals to a running warden intake and print each answer.

    One line per signal: the signal id, the HTTP code, the status (accepted, duplicate, rejected,
    error), the position id and the reason. Exits 1 if any signal was not accepted or a duplicate.

    \b
    Examples:
      export WARDEN_INTAKE_SECRET=...   # or intake.secret_env / secret_file in the config
      warden signal --exchange bybit --symbol BTCUSDT --side long --quantity 0.01 \\
          --stop-loss-percent 1.5 --url http://127.0.0.1:8787/signals
      warden signal --config warden.toml --file signals.jsonl
      echo '{"signal_id":"s1","exchange":"bybit","symbol":"BTCUSDT","side":"long","quantity":"0.01"}' \\
          | warden signal --file -
    """
    try:
        settings = load_intake_settings(config_path, os.environ)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    if settings.secret is None:
        raise click.UsageError("no webhook secret: set $WARDEN_INTAKE_SECRET or give intake.secret_env "
                               "or intake.secret_file in --config")
    if source is not None:
        bodies = [line.strip() for line in source if line.strip()]
    elif fields["symbol"] and fields["exchange"] and fields["side"]:
        bodies = [_from_options(fields)]
    else:
        raise click.UsageError("give --exchange, --symbol, --side and --quantity/--notional, "
                               "or --file FILE ('-' for stdin)")
    target = url or f"http://{settings.host}:{settings.port}/signals"
    answers = asyncio.run(post_signals(target, settings.secret, bodies, timeout_s=timeout))
    for answer in answers:
        click.echo(answer.line())
    if not all(answer.ok for answer in answers):
        raise SystemExit(1)
