"""The engine benchmark's result lines and their table: each figure beside its same-run baseline,
the target and whether it was met (reported, never asserted)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    phase: str
    measure: str
    value: str  # "n/a (needs ...)" when the figure cannot be had from this build
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, or nothing measured to judge

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("PASS" if self.met else "MISS")


def na(needs: str) -> str:
    return f"n/a (needs {needs})"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else ""


def render(lines: list[Line]) -> str:
    header = ("phase", "measure", "warden", "baseline (same run)", "ratio", "target", "verdict")
    rows = [header] + [(x.phase, x.measure, x.value, x.baseline, x.ratio, x.target, x.verdict)
                       for x in lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def summary(lines: list[Line]) -> str:
    judged = [x for x in lines if x.met is not None]
    missed = [f"{x.phase} {x.measure}" for x in judged if not x.met]
    return (f"{len(judged) - len(missed)}/{len(judged)} targets met"
            + (f"; missed: {', '.join(missed)}" if missed else ""))
