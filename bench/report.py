"""The result table: one row per (metric, system), median / min / max over
the repeats, and flowjobs' ratio to every other system.

The ratio is always flowjobs' median divided by the other system's median.
On a "higher is better" metric (marked ↑) a ratio above 1 means flowjobs is
ahead; on a "lower is better" metric (↓) a ratio below 1 means flowjobs is
ahead. Pure functions: tests/unit/test_bench_report.py checks them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Row:
    metric: str  # the label, with its unit
    higher_is_better: bool
    system: str
    configuration: str
    is_flowjobs: bool = False
    values: list[float] = field(default_factory=list)  # one per repeat
    note: str = ""  # "n/a: why", or the error of a failed repeat

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def ratio(flowjobs: float, other: float) -> float | None:
    """flowjobs ÷ other, None when the other is 0."""
    return flowjobs / other if other else None


def ratio_cell(row: Row, rows: list[Row]) -> str:
    """flowjobs' ratio to ``row``'s system, one entry per flowjobs system
    measured for the same metric; empty for flowjobs' own rows."""
    if row.is_flowjobs or row.median is None:
        return ""
    parts = []
    for mine in rows:
        if mine.metric != row.metric or not mine.is_flowjobs or mine.median is None:
            continue
        value = ratio(mine.median, row.median)
        if value is not None:
            parts.append(f"{short_name(mine.system)} {number(value)}x")
    return ", ".join(parts)


def short_name(system: str) -> str:
    return {"flowjobs PostgreSQL": "PG", "flowjobs SQLite": "SQLite"}.get(system, system)


def number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"  # two significant figures: 0.55, 0.0013


def markdown(rows: list[Row]) -> str:
    """The table as Markdown (it also reads well as plain text)."""
    header = [
        "metric",
        "better",
        "system",
        "configuration",
        "median",
        "min",
        "max",
        "n",
        "flowjobs ÷ this",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        values = row.values
        cells = [
            row.metric,
            "↑" if row.higher_is_better else "↓",
            row.system,
            row.configuration,
            number(row.median) if values else (row.note or "n/a"),
            number(min(values)) if values else "",
            number(max(values)) if values else "",
            str(len(values)),
            ratio_cell(row, rows),
        ]
        if values and row.note:
            cells[3] += f" ({row.note})"
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
