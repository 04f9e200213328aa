"""``--profile``: cProfile of the two places a missed target is explained from.

- the P1 ``warden run`` process, run as ``python -m cProfile -o FILE -m warden run ...`` (it exits
  cleanly on SIGTERM, so the profile is written), for ingest, latency and events/s;
- the P2 rebuild, in the benchmark's own process.

`report` prints the top entries of each by own time and by cumulative time.
"""

from __future__ import annotations

import io
import pstats
import tempfile
from cProfile import Profile
from pathlib import Path

TOP = 15


class Profiles:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="warden_bench_profile_")
        self.service_file = Path(self._dir.name) / "service.pstats"
        self._replay: Profile | None = None

    def service_prefix(self) -> list[str]:
        """Arguments between the interpreter and ``-m warden``."""
        return ["-m", "cProfile", "-o", str(self.service_file)]

    def replay(self) -> Profile:
        self._replay = Profile()
        return self._replay

    def report(self) -> str:
        parts = []
        if self.service_file.exists():
            parts.append(_top("P1 warden run (the whole process)", pstats.Stats(str(self.service_file))))
        if self._replay is not None:
            parts.append(_top("P2 rebuild of the read models", pstats.Stats(self._replay)))
        self._dir.cleanup()
        return "\n".join(parts)


OURS = r"/(engine|adapters|projections|domain)/\w+(/\w+)?\.py"  # warden's own modules, by path


def _top(title: str, stats: pstats.Stats) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    out.write(f"\n== {title}: warden's own functions, top {TOP} by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(OURS, TOP)
    out.write(f"\n== {title}: top {TOP} by own time\n")
    stats.strip_dirs().sort_stats("tottime").print_stats(TOP)
    return out.getvalue()
