"""Dates as DecisionRules' functions handle them.

DecisionRules runs Day.js on servers set to Central European Time. Its DATE
and NOW functions return ISO text without an offset that stands for UTC
("2021-12-24T23:00"); other date functions take that text (or a date value)
back. Dates written without a time zone are read in CET, and DAY, MONTH,
YEAR, WEEKDAY and DATE_COMPUTE look at the date in CET, while DATE_FORMAT and
DATETIME_COMPUTE write UTC: that is what the documented examples show.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowjobs.decisions.problems import ExpressionError

# Central European Time with its summer time (CET/CEST), DecisionRules' default zone.
DEFAULT_ZONE = ZoneInfo("CET")

_ISO_INSTANT = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
    r"\s*(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")
_UTC_NAMES = frozenset({"Z", "UTC", "GMT"})
_PREFIXED_OFFSET = re.compile(r"(?:UTC|GMT)(?P<offset>[+-].+)", re.IGNORECASE)


def invalid(message: str) -> ExpressionError:
    """The error of a date function given something it cannot use."""
    return ExpressionError(message)


def offset_zone(text: str) -> dt.timezone | None:
    """``+08:00``, ``-0800``, ``+8``, ``GMT+3``, ``Z``, ``UTC`` as a fixed zone; None otherwise."""
    stripped = text.strip()
    if stripped.upper() in _UTC_NAMES:
        return dt.UTC
    prefixed = _PREFIXED_OFFSET.fullmatch(stripped)
    if prefixed:
        stripped = prefixed.group("offset")
    match = _OFFSET.fullmatch(stripped)
    if match is None:
        return None
    hours, minutes = int(match.group("hours")), int(match.group("minutes") or 0)
    if hours > 23 or minutes > 59:
        return None
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-delta if match.group("sign") == "-" else delta)


@functools.lru_cache(maxsize=256)
def _named_zone(name: str) -> dt.tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_of(value: Any) -> dt.tzinfo:
    """The time zone a function argument names: an offset or an IANA name (Europe/Prague)."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"not a time zone: {value!r}")
    zone = offset_zone(value) or _named_zone(value.strip())
    if zone is None:
        raise invalid(f"not a time zone: {value!r}")
    return zone


def local_datetime(
    year: int,
    month0: int,
    day: int,
    time: tuple[int, int, int, int] = (0, 0, 0, 0),
    zone: dt.tzinfo = DEFAULT_ZONE,
) -> dt.datetime:
    """A wall-clock time in ``zone``, out-of-range parts carried over as JavaScript's Date does.

    ``month0`` counts from 0; day 33 of December is 2 January, month 13 is the
    next January. ``time`` is (hours, minutes, seconds, milliseconds).
    """
    hours, minutes, seconds, millis = time
    try:
        first = dt.datetime(year + month0 // 12, month0 % 12 + 1, 1)
        wall = first + dt.timedelta(
            days=day - 1, hours=hours, minutes=minutes, seconds=seconds, milliseconds=millis
        )
    except (OverflowError, ValueError) as exc:
        raise invalid("the date is out of range") from exc
    # fold=0: an ambiguous autumn hour is its first occurrence, a skipped spring
    # hour keeps the offset before the change, as JavaScript's Date does.
    return wall.replace(tzinfo=zone)


def instant(value: Any) -> dt.datetime:
    """A date argument (a date value, or ISO text as DATE and NOW give it) as an instant in UTC.

    ISO text without an offset is UTC. Other text ("04/16/2024") is not a
    date here: it must go through DATE first, as DecisionRules requires.
    """
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return to_utc(aware)
    if isinstance(value, str):
        parsed = parse_iso(value)
        if parsed is not None:
            return parsed
    raise invalid(f"not a date: {value!r} (use DATE to read a date)")


def parse_iso(text: str) -> dt.datetime | None:
    """ISO 8601 text as an instant in UTC (no offset means UTC); None if it is not ISO."""
    match = _ISO_INSTANT.fullmatch(text.strip())
    if match is None:
        return None
    fraction = (match.group("fraction") or "0")[:6].ljust(6, "0")
    try:
        parsed = dt.datetime(
            int(match.group("year")),
            int(match.group("month")),
            int(match.group("day")),
            int(match.group("hour") or 0),
            int(match.group("minute") or 0),
            int(match.group("second") or 0),
            int(fraction),
        )
    except ValueError:
        return None
    zone = offset_zone(match.group("offset")) if match.group("offset") else dt.UTC
    try:
        return parsed.replace(tzinfo=zone or dt.UTC).astimezone(dt.UTC)
    except OverflowError:
        return None


def in_zone(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``value`` on the wall clock of ``zone``; ExpressionError at the ends of the calendar."""
    try:
        return value.astimezone(zone)
    except OverflowError as exc:
        raise invalid("the date is out of range") from exc


def to_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an instant in UTC; ExpressionError at the ends of the calendar."""
    return in_zone(value, dt.UTC)


def in_default_zone(value: dt.datetime) -> dt.datetime:
    """The wall-clock time of an instant in CET, where DecisionRules reads days and months."""
    return in_zone(value, DEFAULT_ZONE)


def wall_date(value: dt.datetime) -> str:
    """``2021-12-24``: the date on ``value``'s own wall clock (years below 1000 padded)."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def wall_minutes(value: dt.datetime) -> str:
    """``2021-12-24T23:00``: ``value``'s own wall clock to the minute."""
    return f"{wall_date(value)}T{value.hour:02d}:{value.minute:02d}"


def render_minutes(value: dt.datetime) -> str:
    """``2021-12-24T23:00``: an instant in UTC to the minute, as DATE and NOW write it."""
    return wall_minutes(to_utc(value))


def render_seconds(value: dt.datetime) -> str:
    """``2021-12-24T23:00:05``: an instant in UTC to the second."""
    return f"{render_minutes(value)}:{to_utc(value).second:02d}"


def floor_to(value: dt.datetime, unit: str) -> dt.datetime:
    """``value`` with the parts below ``unit`` (s, m, h) set to zero."""
    if unit == "s":
        return value.replace(microsecond=0)
    if unit == "m":
        return value.replace(second=0, microsecond=0)
    if unit == "h":
        return value.replace(minute=0, second=0, microsecond=0)
    raise invalid(f"unknown rounding unit {unit!r}: use s, m or h")
