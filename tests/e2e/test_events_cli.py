"""``warden events`` as a user runs it, in separate processes: a progress bar on a terminal and
silence in a pipe, a cut log refused before anything is written, and ``events tail --follow``
printing what another process records, on SQLite and on PostgreSQL, until Ctrl-C."""

from __future__ import annotations

import os
import pty
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.builders import protected
from warden.adapters.eventlog import export_log
from warden.adapters.store import open_store

ROOT = Path(__file__).resolve().parents[2]
WARDEN = [sys.executable, "-m", "warden"]
WRITER = """
import sys, time
from tests.builders import protected
from warden.adapters.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.save(protected(signal_id=f"written-{i}"))
    time.sleep(0.1)
"""


def on_a_terminal(*args: str) -> tuple[int, bytes, str]:
    """Run warden with stderr on a pseudo-terminal: (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    with tempfile.TemporaryFile() as stdout:  # a pipe would fill while the terminal is read
        process = subprocess.Popen([*WARDEN, *args], cwd=ROOT, stdout=stdout, stderr=follower,
                                   env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other side closed: the process is done with it
                break
            if not chunk:
                break
            shown += chunk
        os.close(leader)
        code = process.wait(timeout=60)
        stdout.seek(0)
        return code, stdout.read(), shown.decode("utf8", "replace")


def piped(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*WARDEN, *args], cwd=ROOT, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Path:
    """A log long enough for the bars: 2,400 positions, over 10,000 events and 4 MB."""
    store = open_store("memory://")
    store.save(*(protected(signal_id=f"bulk-{i}") for i in range(2_400)))
    path = tmp_path_factory.mktemp("log") / "big.jsonl"
    with path.open("w", encoding="utf8") as out:
        export_log(store, out)
    assert path.stat().st_size > 4 * 1024 * 1024
    return path


def test_export_import_and_replay_show_a_bar_on_a_terminal_and_nothing_in_a_pipe(big_log, tmp_path):
    url = f"sqlite:///{tmp_path}/copy.sqlite3"
    code, out, shown = on_a_terminal("events", "import", str(big_log), "--store", url)
    assert code == 0 and b"imported 12000 events" in out
    assert "importing" in shown and "MB" in shown

    code, exported, shown = on_a_terminal("events", "export", "--store", url)
    assert code == 0 and exported == big_log.read_bytes()
    assert "exporting" in shown and "exported 12000 events" in shown

    quiet = piped("events", "export", "--store", url)
    assert quiet.stdout == big_log.read_bytes()
    assert quiet.stderr == b"exported 12000 events\n"  # a pipe gets the summary only

    position = protected(signal_id="bulk-7").id.hex[:8]
    code, out, shown = on_a_terminal("replay", position, "--log", str(big_log))
    assert code == 0 and b"StopLossPlaced" in out and "importing" in shown


def test_a_log_cut_at_a_line_boundary_is_refused_and_nothing_is_written(big_log, tmp_path):
    cut = tmp_path / "cut.jsonl"
    lines = big_log.read_bytes().splitlines(keepends=True)
    cut.write_bytes(b"".join(lines[:1279]))
    url = f"sqlite:///{tmp_path}/target.sqlite3"

    refused = piped("events", "import", str(cut), "--store", url)

    assert refused.returncode == 1
    assert refused.stderr.decode() == (f"Error: {cut}: line 1280: the trailer is missing: the file is "
                                       f"truncated after line 1279 (1278 events read)\n")
    assert open_store(url).recorder.max_notification_id() in (None, 0)


def test_invalid_utf8_in_a_log_is_a_one_line_error_naming_the_line(big_log, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = big_log.read_bytes().splitlines(keepends=True)[:50]
    lines[20] = lines[20][:30] + b"\xc3\x28" + lines[20][30:]
    bad.write_bytes(b"".join(lines))

    refused = piped("events", "import", str(bad), "--store", "memory://")

    assert refused.returncode == 1 and b"Traceback" not in refused.stderr
    assert refused.stderr.decode().strip() == f"Error: {bad}: line 21: not UTF-8 (byte 0xc3 at column 31)"


class Tail:
    """``warden events tail --follow`` as a process, its lines read as they come."""

    def __init__(self, url: str, *extra: str) -> None:
        self.process = subprocess.Popen([*WARDEN, "events", "tail", "--follow", "--interval", "0.1",
                                         "--store", url, *extra], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, preexec_fn=_as_from_a_shell)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def take(self, count: int, timeout: float = 30) -> list[str]:
        deadline, taken = time.monotonic() + timeout, []
        while len(taken) < count:
            taken.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
        return taken

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
            signals = [line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn"))]
            self.process.kill()
            raise AssertionError(f"the tail did not stop on SIGINT ({signals}): "
                                 f"{self.process.communicate()[1][-2000:]}") from None
        return code, self.process.stderr.read()


def _as_from_a_shell() -> None:
    """The child starts as from an interactive shell: SIGINT delivered and not ignored, whatever
    the test worker's own signal state (a full `make test` run once left the tail deaf to it)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def follow_while_another_process_writes(url: str) -> None:
    store = open_store(url)
    store.save(protected(signal_id="before"))
    before = store.recorder.max_notification_id()
    tail = Tail(url, "-n", "2")
    try:
        first = tail.take(2)  # the two newest events already recorded
        writer = subprocess.run([sys.executable, "-c", WRITER, url, "8"], cwd=ROOT, capture_output=True,
                                timeout=120)
        assert writer.returncode == 0, writer.stderr
        expected = list(store.stored_notifications(start=before - 1))
        printed = first + tail.take(len(expected) - 2)
    finally:
        code, errors = tail.interrupt()

    assert [int(line.split()[0]) for line in printed] == [n.id for n in expected]
    events = [type(store.mapper.to_domain_event(n)).__name__ for n in expected]
    assert [line.split()[2] for line in printed] == events
    assert [line.split()[3] for line in printed] == [n.originator_id.hex[:8] for n in expected]
    assert tail.lines.empty()  # nothing printed twice
    assert code == 0 and "Traceback" not in errors


def test_tail_follows_a_sqlite_store_written_by_another_process(tmp_path):
    follow_while_another_process_writes(f"sqlite:///{tmp_path}/live.sqlite3")


@pytest.mark.postgres
def test_tail_follows_a_postgresql_store_written_by_another_process(pg_url):
    follow_while_another_process_writes(pg_url)


def test_tail_refuses_a_memory_store_and_a_missing_sqlite_file(tmp_path):
    memory = piped("events", "tail", "--store", "memory://")
    missing = piped("events", "tail", "--store", f"sqlite:///{tmp_path}/nope.sqlite3")
    assert memory.returncode == 2 and b"cannot be tailed" in memory.stderr
    assert missing.returncode == 2 and b"no SQLite store at" in missing.stderr
    assert not (tmp_path / "nope.sqlite3").exists()


def test_tail_without_follow_prints_the_newest_events_and_exits(tmp_path):
    url = f"sqlite:///{tmp_path}/some.sqlite3"
    store = open_store(url)
    store.save(protected(signal_id="a"), protected(signal_id="b"))
    total = store.recorder.max_notification_id()

    shown = piped("events", "tail", "-n", "3", "--store", url)

    assert shown.returncode == 0
    ids = [int(line.split()[0]) for line in shown.stdout.decode().splitlines()]
    assert ids == [total - 2, total - 1, total]
    assert shown.stdout.count(b"StopLossPlaced") == 1
