"""The example logs in examples/: each imports, replays, reports and what-ifs, and the generator,
running the real engine against the simulator again, still writes the same events per position
(an example gone stale, because the engine now records something else, fails here)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from examples.generate import EXAMPLES, record
from warden.app import main

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "examples" / "policy.toml")


def shipped(name: str) -> Path:
    return ROOT / "examples" / f"{name}.jsonl"


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"warden {' '.join(args)}:\n{result.output}"
    return result.output


def records(text: str) -> list[dict]:
    """The event lines (the header and, from format 2 on, the trailer left out)."""
    lines = [json.loads(line) for line in text.splitlines()[1:] if line.strip()]
    return [line for line in lines if "trailer" not in line]


def positions(text: str) -> list[str]:
    return [r["originator_id"] for r in records(text) if r["originator_version"] == 1
            and r["topic"].endswith((":SignalAccepted", ":PositionAdopted"))]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_an_example_imports_replays_reports_and_whatifs(name, tmp_path):
    log = str(shipped(name))
    ids = positions(shipped(name).read_text(encoding="utf8"))
    assert ids, f"{name} has no position"
    store = f"sqlite:///{tmp_path}/imported.sqlite3"
    assert "imported" in cli("events", "import", log, "--store", store)
    for position_id in ids:
        assert "state after version" in cli("replay", position_id[:8], "--log", log)
    out = tmp_path / "report.html"
    cli("report", "--store", store, "-o", str(out))
    page = out.read_text(encoding="utf8")
    assert all(f'id="chart-{position_id}"' in page for position_id in ids)
    same = cli("whatif", "--log", log, "--policy", POLICY)
    assert same.count("every decision the same") == len(ids), same
    other = cli("whatif", "--log", log, "--policy", POLICY, "--set", "initial_stop_percent=3",
                "--html", str(tmp_path / "whatif.html"))
    assert "first decision that differs" in other
    assert "stop (what-if)" in (tmp_path / "whatif.html").read_text(encoding="utf8")


def sequence(text: str) -> tuple[dict, dict]:
    """Per position (venue, symbol, side, signal), its event topics, repeated marks counted once
    (how many ticks the feed delivers depends on timing); per account, the set of its topics."""
    created, per_position, per_account = {}, {}, {}
    for r in records(text):
        topic, state, oid = r["topic"].rsplit(":", 1)[1], r["state"], r["originator_id"]
        if topic in ("SignalAccepted", "PositionAdopted"):
            created[oid] = (state["venue"], state["symbol"], state["side"]["_data_"], state.get("signal_id"))
            per_position[created[oid]] = []
        if oid in created:
            per_position[created[oid]].append(topic)
        else:
            per_account.setdefault(oid, set()).add(topic)
    return {key: _marks_once(topics) for key, topics in per_position.items()}, per_account


def _marks_once(topics: list[str]) -> list[str]:
    runs = itertools.groupby(topics)
    return [t for topic, run in runs for t in ([topic] if topic == "MarkPriceObserved" else list(run))]


async def test_the_generator_still_writes_every_shipped_example():
    for name in EXAMPLES:
        fresh = await record(name)
        assert sequence(fresh) == sequence(shipped(name).read_text(encoding="utf8")), (
            f"examples/{name}.jsonl is stale: run .venv/bin/python examples/generate.py {name}")


def test_the_seed_incident_example_reads_as_the_night_it_reproduces():
    log = str(shipped("seed-incident"))
    (position_id,) = positions(shipped("seed-incident").read_text(encoding="utf8"))
    timeline = cli("replay", position_id[:8], "--log", log)
    assert re.search(r"EntryFilled .* price=[0-9.]+ .*price_source=POSITION", timeline)
    rejected = timeline.index("StopLossRejected")
    assert "code=10001" in timeline[rejected:] and timeline.index("StopLossPlaced") > rejected
    assert re.search(r"status\s+PROTECTED", timeline)


def test_report_and_whatif_refuse_bad_input_with_a_clear_message(tmp_path):
    def refused(*args: str) -> str:
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit), result.output
        return result.output
    log = str(shipped("trailing-stop"))
    assert "no position id starts with 'abcdef12'" in refused("report", "abcdef12", "--log", log)
    assert "give either --log or --store" in refused("report", "--log", log, "--store", "memory://")
    assert "policy.trailing_callback_percent: expected a number > 0" in refused(
        "whatif", "--log", log, "--set", "trailing_callback_percent=-1")
    assert "policy.trailing_calback_percent: unknown key" in refused(
        "whatif", "--log", log, "--set", "trailing_calback_percent=0.3")
    assert "expected KEY=VALUE" in refused("whatif", "--log", log, "--set", "trailing_callback_percent")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"format":"warden-event-log","version":1}\n{not json\n', encoding="utf8")
    assert "line 2: not valid JSON" in refused("report", "--log", str(broken), "-o", str(tmp_path / "r.html"))
