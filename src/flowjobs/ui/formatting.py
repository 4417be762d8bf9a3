"""How the dashboard writes times, durations and JSON. Pure functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml


def duration(seconds: float | None) -> str:
    """A duration for people: 350 ms, 4.2 s, 3 min 5 s, 2 h 3 min."""
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def short_seconds(seconds: float) -> str:
    """A compact axis label: 0, 20ms, 0.5s, 12s, 5m, 2h."""
    if seconds <= 0:
        return "0"
    if seconds < 0.1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def timestamp(value: datetime | None) -> str:
    """UTC, to the second: 2026-11-28 21:23:00 UTC."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def run_seconds(
    claimed_at: datetime | None, ended_at: datetime | None, now: datetime
) -> float | None:
    """How long a job has run (or ran): from its claim to its end, or to now."""
    if claimed_at is None:
        return None
    return ((ended_at or now) - claimed_at).total_seconds()


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def flow_yaml(document: dict[str, Any]) -> str:
    """A flow document as its author would write it (key order kept)."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
