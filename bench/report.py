"""Benchmark results: ratios, goal checks, the Rich table and var/bench/results.json."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
INFO = "info"


@dataclass(frozen=True)
class Result:
    """One measured figure, its same-run baseline and the goal its ratio (or value) must meet."""

    name: str
    backend: str
    value: float | None
    unit: str
    baseline: float | None = None
    goal: str = INFO
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    @property
    def met(self) -> bool | None:
        """True/False against the goal; None for information rows and unavailable figures."""
        subject = self.ratio if self.baseline is not None else self.value
        return goal_met(self.goal, subject)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        data["met"] = self.met
        return data


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value ÷ baseline, or None when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def parse_goal(goal: str) -> tuple[Callable[[float, float], bool], float] | None:
    """'>= 1.0' → (operator.ge, 1.0); None for 'info' or anything unparseable."""
    text = goal.strip()
    for symbol in sorted(COMPARATORS, key=len, reverse=True):
        if text.startswith(symbol):
            try:
                return COMPARATORS[symbol], float(text[len(symbol) :].strip())
            except ValueError:
                return None
    return None


def goal_met(goal: str, subject: float | None) -> bool | None:
    parsed = parse_goal(goal)
    if parsed is None or subject is None:
        return None
    compare, threshold = parsed
    return compare(subject, threshold)


def unavailable(name: str, backend: str, unit: str, reason: str, goal: str = INFO) -> Result:
    """A row for a path that could not be measured in this run, with the reason."""
    return Result(name, backend, None, unit, goal=goal, note=f"not available: {reason}")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples (fraction in [0, 1])."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def _fmt(number: float | None) -> str:
    if number is None:
        return "-"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    if abs(number) >= 10:
        return f"{number:.1f}"
    if 0 < abs(number) < 0.1:
        return f"{number:.3g}"
    return f"{number:.2f}"


def table(results: Iterable[Result], title: str = "Dossier benchmarks") -> Table:
    view = Table(title=title, show_lines=False)
    for column in ("name", "backend", "value", "unit", "baseline", "ratio", "goal", "ok", "note"):
        numeric = column in ("value", "baseline", "ratio")
        view.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for r in results:
        ok = {True: "[green]yes[/green]", False: "[red]no[/red]", None: ""}[r.met]
        goal = "" if r.goal == INFO else r.goal
        view.add_row(
            r.name,
            r.backend,
            _fmt(r.value),
            r.unit,
            _fmt(r.baseline),
            _fmt(r.ratio),
            goal,
            ok,
            r.note,
        )
    return view


def markdown(results: Iterable[Result]) -> str:
    """The results as a Markdown table (for the README)."""
    lines = [
        "| name | backend | value | unit | baseline | ratio | goal | met | note |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | --- | --- |",
    ]
    for r in results:
        met = {True: "yes", False: "no", None: ""}[r.met]
        goal = "" if r.goal == INFO else r.goal
        cells = [r.name, r.backend, _fmt(r.value), r.unit, _fmt(r.baseline), _fmt(r.ratio)]
        lines.append("| " + " | ".join([*cells, goal, met, r.note.replace("|", "/")]) + " |")
    return "\n".join(lines)


def write_json(results: Sequence[Result], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")


def show(results: Sequence[Result], console: Console | None = None) -> None:
    (console or Console()).print(table(results))
