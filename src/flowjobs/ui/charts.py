"""The overview's two charts as SVG geometry, computed on the server.

No chart library: a chart is a few paths and rectangles in a fixed viewBox
that CSS scales to the screen. Each chart also carries a sentence that says
what it shows (for screen readers) and the hourly numbers behind it (shown as
a table under the chart). Pure functions; the templates draw the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flowjobs.domain import FinishedMinute
from flowjobs.ui.formatting import duration, short_seconds

WIDTH = 600
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 26  # margins inside the viewBox


@dataclass(frozen=True)
class Tick:
    position: float  # x for the time axis, y for the value axis
    label: str
    anchor: str = "middle"  # SVG text-anchor: the outer labels stay inside the chart


@dataclass(frozen=True)
class Shape:
    css: str  # class name in app.css
    d: str = ""  # a path
    rect: tuple[float, float, float, float] | None = None  # x, y, width, height
    title: str = ""


@dataclass(frozen=True)
class HourStat:
    start: datetime
    finished: int
    failed: int
    ran: int
    average_seconds: float | None
    longest_seconds: float | None


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    shapes: list[Shape] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, label)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> float:
        return HEIGHT - BOTTOM

    @property
    def left(self) -> float:
        return LEFT

    @property
    def right(self) -> float:
        return WIDTH - RIGHT


def window_start(now: datetime, hours: int) -> datetime:
    """The start of the chart's ``hours`` whole hours, the last one being the
    current hour (so bars and labels fall on the hour)."""
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)


def nice_ticks(maximum: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (1-2-5 steps; with
    ``whole``, steps of at least 1, for counts)."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(step, 1)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _x(index: float, slots: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * index / slots


def _y(value: float, top_value: float) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - plot * (value / top_value if top_value else 0)


def _time_ticks(start: datetime, hours: int) -> list[Tick]:
    every = max(hours // 4, 1)
    ticks = []
    for h in range(0, hours + 1, every):
        anchor = "start" if h == 0 else "end" if h == hours else "middle"
        ticks.append(Tick(_x(h, hours), f"{start + timedelta(hours=h):%H:%M}", anchor))
    return ticks


def _value_ticks(values: list[float], *, seconds: bool = False) -> list[Tick]:
    top = values[-1]
    return [Tick(_y(v, top), short_seconds(v) if seconds else f"{v:g}") for v in values]


def per_minute(
    buckets: list[FinishedMinute], start: datetime, minutes: int
) -> list[FinishedMinute]:
    """One entry per minute of the window, zeros where nothing ended."""
    by_minute = {b.minute: b for b in buckets}
    slots = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        slots.append(by_minute.get(minute) or FinishedMinute(minute, 0, 0, 0, 0.0, 0.0))
    return slots


def hourly(buckets: list[FinishedMinute], start: datetime, hours: int) -> list[HourStat]:
    """Minutes folded into hours: counts, average and longest duration."""
    stats = []
    for h in range(hours):
        begin = start + timedelta(hours=h)
        inside = [b for b in buckets if begin <= b.minute < begin + timedelta(hours=1)]
        ran = sum(b.ran for b in inside)
        stats.append(
            HourStat(
                start=begin,
                finished=sum(b.finished for b in inside),
                failed=sum(b.failed for b in inside),
                ran=ran,
                average_seconds=sum(b.run_seconds for b in inside) / ran if ran else None,
                longest_seconds=max((b.longest_seconds for b in inside if b.ran), default=None),
            )
        )
    return stats


def _step_path(values: list[int], top_value: float) -> str:
    """A filled step line: one horizontal run per minute, a vertical move
    only where the value changes (a quiet day is a handful of commands)."""
    base = HEIGHT - BOTTOM
    parts = [f"M{_x(0, len(values)):.1f},{base:.1f}"]
    current: float = base
    for i, value in enumerate(values):
        y = _y(value, top_value)
        if y != current:
            parts.append(f"V{y:.1f}")
            current = y
        parts.append(f"H{_x(i + 1, len(values)):.1f}")
    if current != base:
        parts.append(f"V{base:.1f}")
    parts.append("Z")
    return "".join(_merge_runs(parts))


def _merge_runs(parts: list[str]) -> list[str]:
    """Drop horizontal moves that the next horizontal move makes redundant."""
    merged: list[str] = []
    for part in parts:
        if merged and part.startswith("H") and merged[-1].startswith("H"):
            merged[-1] = part
        else:
            merged.append(part)
    return merged


def finished_chart(buckets: list[FinishedMinute], now: datetime, hours: int = 24) -> Chart:
    start = window_start(now, hours)
    slots = per_minute(buckets, start, hours * 60)
    finished = [s.finished for s in slots]
    failed = [s.failed for s in slots]
    total, errors, peak = sum(finished), sum(failed), max(finished, default=0)
    ticks = nice_ticks(peak, whole=True)
    summary = (
        f"{total} jobs finished in the last {hours} hours, {errors} of them in error; "
        f"at most {peak} in one minute."
    )
    return Chart(
        title=f"Jobs finished per minute, last {hours} h (UTC)",
        summary=summary,
        shapes=[
            Shape("series-finished", d=_step_path(finished, ticks[-1])),
            Shape("series-failed", d=_step_path(failed, ticks[-1])),
        ],
        x_ticks=_time_ticks(start, hours),
        y_ticks=_value_ticks(ticks),
        legend=[("series-finished", "finished"), ("series-failed", "in error")],
    )


def _duration_shapes(stats: list[HourStat], top_value: float) -> list[Shape]:
    shapes = []
    slot = (WIDTH - LEFT - RIGHT) / len(stats)
    for i, stat in enumerate(stats):
        if stat.average_seconds is None or stat.longest_seconds is None:
            continue
        x = _x(i, len(stats)) + slot * 0.15
        label = f"{stat.start:%H:%M}: average {duration(stat.average_seconds)}"
        y = _y(stat.average_seconds, top_value)
        shapes.append(
            Shape("series-average", rect=(x, y, slot * 0.7, HEIGHT - BOTTOM - y), title=label)
        )
        top = _y(stat.longest_seconds, top_value)
        longest = f"{stat.start:%H:%M}: longest {duration(stat.longest_seconds)}"
        shapes.append(
            Shape("series-longest", d=f"M{x:.1f},{top:.1f}h{slot * 0.7:.1f}", title=longest)
        )
    return shapes


def duration_chart(buckets: list[FinishedMinute], now: datetime, hours: int = 24) -> Chart:
    start = window_start(now, hours)
    stats = hourly(buckets, start, hours)
    ran = sum(s.ran for s in stats)
    longest = max((s.longest_seconds or 0.0 for s in stats), default=0.0)
    ticks = nice_ticks(longest)
    if ran:
        average = sum(b.run_seconds for b in buckets) / ran
        summary = (
            f"{ran} jobs ran in the last {hours} hours: {duration(average)} on average, "
            f"the longest {duration(longest)}."
        )
    else:
        summary = f"No job ran to its end in the last {hours} hours."
    return Chart(
        title=f"Job durations per hour, last {hours} h (UTC)",
        summary=summary,
        shapes=_duration_shapes(stats, ticks[-1]),
        x_ticks=_time_ticks(start, hours),
        y_ticks=_value_ticks(ticks, seconds=True),
        legend=[("series-average", "average"), ("series-longest", "longest")],
    )
