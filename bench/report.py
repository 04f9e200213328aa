"""The benchmark's result rows and the table that prints them, with PASS/MISS per target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A bound on ``ratio``: at least ``bound`` (higher is better) or at most it."""

    bound: float
    at_least: bool

    def met(self, ratio: float) -> bool:
        return ratio >= self.bound if self.at_least else ratio <= self.bound

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound:g}"


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its baseline. ``ratio`` is warden / baseline."""

    backend: str
    name: str
    value: float
    baseline: float
    unit: str  # "ev/s" or "ms"
    baseline_name: str = "raw driver"
    target: Target | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "PASS" if self.target.met(self.ratio) else "MISS"


def _num(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if unit == "ev/s" else f"{value:,.2f} {unit}"


def render(figures: list[Figure]) -> str:
    header = ("backend", "measure", "warden", "baseline", "ratio", "target", "verdict")
    rows = [header] + [
        (f.backend, f.name, _num(f.value, f.unit), f"{_num(f.baseline, f.unit)} ({f.baseline_name})",
         f"{f.ratio:.2f}", str(f.target or ""), f.verdict)
        for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(figures: list[Figure]) -> str:
    judged = [f for f in figures if f.target is not None]
    missed = [f"{f.backend} {f.name}" for f in judged if f.verdict == "MISS"]
    verdict = f"{len(judged) - len(missed)}/{len(judged)} targets met"
    return verdict + (f"; missed: {', '.join(missed)}" if missed else "")
