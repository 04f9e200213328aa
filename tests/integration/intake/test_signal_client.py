"""`warden signal` against a running intake and engine: from options, a JSONL file and stdin."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from tests.integration.engine.conftest import signal
from tests.integration.intake.conftest import CANARY
from warden.adapters.signal_client import signal_command


async def run(args: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None):
    # The command runs its own event loop: give it a thread while the intake serves on this one.
    env = {"WARDEN_INTAKE_SECRET": CANARY, "WARDEN_CONFIG": "", **(env or {})}
    return await asyncio.to_thread(CliRunner().invoke, signal_command, args, input=stdin, env=env)


async def test_a_signal_from_options_is_accepted_and_printed(serve, engine):
    _, client = await serve(engine)
    result = await run(["--url", client.url, "--id", "cli1", "--exchange", "bybit", "--account", "bybit",
                        "--symbol", "BTCUSDT", "--side", "long", "--quantity", "0.010",
                        "--stop-loss-percent", "1.5"])
    await engine.idle()

    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith("cli1  202  accepted  position=")
    [position] = list(engine.positions.values())
    assert position.signal_id == "cli1"
    assert CANARY not in result.output


async def test_a_jsonl_file_gets_one_line_per_signal_and_exit_1_when_one_is_refused(serve, engine, tmp_path):
    _, client = await serve(engine)
    lines = [json.dumps(signal("j1")), json.dumps(signal("j2", symbol="NOPEUSDT")), "not json", "",
             json.dumps(signal("j1"))]
    path = tmp_path / "signals.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = await run(["--url", client.url, "--file", str(path)])
    await engine.idle()

    out = result.output.splitlines()
    assert result.exit_code == 1
    assert [line.split("  ")[:3] for line in out] == [
        ["j1", "202", "accepted"], ["j2", "400", "rejected"], ["line 3", "400", "rejected"],
        ["j1", "409", "rejected"]]
    assert "reason=not_json:" in out[2] and "reason=replayed_signal_id:" in out[3]


async def test_signals_from_stdin_and_a_wrong_secret_is_refused(serve, engine):
    _, client = await serve(engine)
    ok = await run(["--url", client.url, "-f", "-"], stdin=json.dumps(signal("in1")) + "\n")
    bad = await run(["--url", client.url, "-f", "-"], stdin=json.dumps(signal("in2")) + "\n",
                    env={"WARDEN_INTAKE_SECRET": "wrong"})
    await engine.idle()

    assert ok.exit_code == 0 and ok.output.startswith("in1  202  accepted")
    assert bad.exit_code == 1 and bad.output.startswith("in2  401  rejected  reason=bad_signature:")


async def test_the_secret_and_url_come_from_the_config_file(serve, engine, tmp_path):
    intake, client = await serve(engine)
    (tmp_path / "hook").write_text(CANARY + "\n")
    port = int(client.url.split(":")[2].split("/")[0])
    config = tmp_path / "warden.toml"
    config.write_text(f'[intake]\nport = {port}\nsecret_file = "{tmp_path / "hook"}"\n')
    result = await run(["--config", str(config), "--exchange", "bybit", "--account", "bybit", "--symbol",
                        "ETHUSDT", "--side", "short", "--quantity", "0.1"], env={"WARDEN_INTAKE_SECRET": ""})
    await engine.idle()

    assert result.exit_code == 0, result.output
    assert " 202  accepted" in result.output and intake.counters()["accepted"] == 1


async def test_no_secret_and_no_signal_are_usage_errors(tmp_path):
    no_secret = await run(["--symbol", "BTCUSDT"], env={"WARDEN_INTAKE_SECRET": ""})
    no_signal = await run(["--url", "http://127.0.0.1:9/signals"])
    refused = await run(["--url", "http://127.0.0.1:9/signals", "--exchange", "bybit", "--symbol", "BTCUSDT",
                         "--side", "long", "--quantity", "1", "--timeout", "2"])

    assert no_secret.exit_code == 2 and "WARDEN_INTAKE_SECRET" in no_secret.output
    assert no_signal.exit_code == 2 and "--file" in no_signal.output
    assert refused.exit_code == 1 and "  -  error  reason=no answer from" in refused.output
