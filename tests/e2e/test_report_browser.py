"""`warden report` and `warden whatif --html` opened in a real headless Chromium (Debian's
/usr/bin/chromium, which `make test` installs; never a downloaded browser), from file:// with
the network cut: the page loads without a console error, asks for nothing but itself, and its
plotly graphs hold the series and its tables the rows."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.unit.projections.conftest import example_events, policy, read_example
from warden.app import main
from warden.projections.whatif import compare

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]
LOCAL = ("file://", "http://127.0.0.1", "http://localhost", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium "
                    "chromium-driver, as root)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch_persistent_context is how Playwright takes a fresh --user-data-dir
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=FLAGS)
        yield context
        context.close()


class Page:
    """One page opened from a file, with what it logged and asked for."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = page = browser.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                   else route.abort())
        page.goto(path.as_uri(), wait_until="load")

    def traces(self, position_id: str) -> dict[str, dict]:
        div = f"chart-{position_id}"
        self.page.wait_for_function(f"document.getElementById('{div}')?._fullLayout !== undefined")
        traces = self.page.evaluate(
            f"document.getElementById('{div}').data.map(t => ({{name: t.name, x: t.x, y: t.y}}))")
        return {t["name"]: t for t in traces}

    def rows(self, position_id: str) -> list[list[str]]:
        return self.page.evaluate(
            f"[...document.querySelectorAll('table.decisions[data-position=\"{position_id}\"] tbody tr')]"
            ".map(tr => [...tr.cells].map(td => td.textContent))")

    def check_offline(self) -> None:
        assert self.errors == []
        assert self.requests and all(url.startswith(LOCAL) for url in self.requests), self.requests


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_the_report_of_a_trailing_stop_shows_its_price_stop_trail_events_and_decisions(browser, tmp_path):
    out = tmp_path / "trailing.html"
    cli("report", "--log", str(ROOT / "examples" / "trailing-stop.jsonl"), "-o", str(out))
    (position,) = read_example("trailing-stop").positions.values()
    page = Page(browser, out)
    traces = page.traces(str(position.id))
    page.check_offline()

    assert {"price", "entry", "stop", "fills", "trailing and aged", "close"} <= set(traces)
    history, created = position.history, position.created
    tape = {e.originator_id for e in example_events("trailing-stop") if type(e).__name__ == "PriceTapeOpened"
            and (e.venue, e.symbol) == (created.venue, created.symbol)}
    marks = [e.price for e in sorted((e for e in example_events("trailing-stop")
                                      if type(e).__name__ == "PriceRecorded" and e.originator_id in tape),
                                     key=lambda e: e.timestamp)]
    stops = [e.price for e in history if type(e).__name__ == "StopLossPlaced"]
    stops += [e.new_price for e in history if type(e).__name__ == "StopLossMoved"]
    assert len(marks) >= 3 and [Decimal(str(y)) for y in traces["price"]["y"]] == marks  # the tape's
    assert [Decimal(str(y)) for y in traces["stop"]["y"]] == [*stops, stops[-1]]  # held to the close
    decisions = [e for e in history if type(e).__name__ != "MarkPriceObserved"]
    rows = page.rows(str(position.id))
    assert [(int(row[0]), row[2]) for row in rows] == [(e.originator_version, type(e).__name__)
                                                       for e in decisions]
    assert "TRAILING_STOP_HIT" in rows[-1][4]


def test_the_whatif_page_draws_both_stop_trails(browser, tmp_path):
    out = tmp_path / "whatif.html"
    log = ROOT / "examples" / "trailing-stop.jsonl"
    cli("whatif", "--log", str(log), "--policy", str(ROOT / "examples" / "policy.toml"),
        "--set", "trailing_callback_percent=0.3", "--html", str(out))
    recorded = read_example("trailing-stop")
    (position,) = recorded.positions.values()
    expected = compare(position, recorded, policy(trailing_callback_percent="0.3"))
    page = Page(browser, out)
    traces = page.traces(str(position.id))
    page.check_offline()

    whatif = [Decimal(str(y)) for y in traces["stop (what-if)"]["y"]]
    trail = [d.price for d in expected.whatif.decisions if d.event == "StopLossRequested"]
    assert whatif[:len(trail)] == trail and len(trail) >= 3
    assert [Decimal(str(y)) for y in traces["exit (what-if)"]["y"]] == [expected.whatif.exit_price]
    assert max(whatif) > max(Decimal(str(y)) for y in traces["stop"]["y"])


def test_a_whole_log_is_one_page_with_a_graph_and_a_table_per_position(browser, tmp_path):
    out = tmp_path / "all.html"
    log = ROOT / "tests" / "fixtures" / "demo-85d6b9c.jsonl"  # a log an older warden wrote
    cli("report", "--log", str(log), "-o", str(out))
    page = Page(browser, out)
    from tests.unit.projections.conftest import read_recorded_file

    positions = read_recorded_file(log).positions
    assert len(positions) == 6
    for position_id in positions:
        assert {"price", "stop", "entry"} <= set(page.traces(str(position_id)))
        assert page.rows(str(position_id))
    page.check_offline()
