"""`track`: a bar on a terminal for long work, nothing otherwise, and the items always unchanged."""

from __future__ import annotations

import io

from rich.console import Console

from warden.adapters.progress import file_size, track


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_long_work_on_a_terminal_draws_a_bar_and_yields_every_item():
    terminal, out = console(True)
    items = list(track(range(20_000), total=20_000, description="exporting", console=terminal))
    assert items == list(range(20_000))
    assert "exporting" in out.getvalue() and "20000/20000" in out.getvalue()


def test_nothing_is_drawn_when_stderr_is_not_a_terminal_or_the_work_is_short_or_of_unknown_size():
    for terminal, total in ((False, 20_000), (True, 4_999), (True, None)):
        shown, out = console(terminal)
        assert list(track(range(20_000), total=total, description="x", console=shown)) == list(range(20_000))
        assert out.getvalue() == ""


def test_a_weight_advances_by_bytes():
    terminal, out = console(True)
    lines = [b"x" * 1000] * 5000
    assert list(track(lines, total=5_000_000, description="importing", weight=len, min_total=1,
                      in_bytes=True, console=terminal)) == lines
    assert "importing" in out.getvalue() and "5.0 MB" in out.getvalue()


def test_a_regular_file_has_a_size_and_a_pipe_has_none(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"12345")
    with path.open("rb") as f:
        assert file_size(f) == 5
    assert file_size(io.BytesIO(b"123")) is None
