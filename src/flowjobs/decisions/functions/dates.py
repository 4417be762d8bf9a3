"""The date and time function family of DecisionRules.

NOW, CURDATE, CURTIME, DATE, DATE_MAX, DATE_MIN, DATEDIFF, DATE_COMPUTE,
DATETIME_COMPUTE, DATE_FORMAT, DAY, MONTH, YEAR, WEEKDAY. Dates travel as
ISO text in UTC (what DATE and NOW return, e.g. ``2021-12-24T23:00``); see
``datetimes.py`` for which functions look at the date in CET and which in UTC.
Importing this family also registers the date operators of condition cells.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flowjobs.decisions import clock, date_operators  # noqa: F401  (registers date cells)
from flowjobs.decisions.dateformat import format_date, parse_with_format
from flowjobs.decisions.dateparse import parse_date_text
from flowjobs.decisions.datetimes import (
    floor_to,
    in_default_zone,
    instant,
    invalid,
    render_minutes,
    render_seconds,
    wall_date,
    wall_minutes,
    zone_of,
)
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.values import is_number, to_number, to_text


def _zone_or_utc(arguments: tuple[Any, ...]) -> dt.tzinfo:
    return zone_of(arguments[0]) if arguments else dt.UTC


def _now_in(arguments: tuple[Any, ...]) -> dt.datetime:
    return clock.now().astimezone(_zone_or_utc(arguments))


@register("NOW", 0, 1)
def now(*zone: Any) -> str:
    """The current date and time to the minute, as wall-clock time in the zone (UTC if none)."""
    return wall_minutes(_now_in(zone))


@register("CURDATE", 0, 1)
def curdate(*zone: Any) -> str:
    """Today's date in the zone (UTC if none), ``2021-06-01``."""
    return wall_date(_now_in(zone))


@register("CURTIME", 0, 1)
def curtime(*zone: Any) -> str:
    """The current time in the zone (UTC if none), ``11:16``."""
    return wall_minutes(_now_in(zone))[-5:]


@register("DATE", 1, 3)
def date(text: Any, pattern: Any = None, unit: Any = None) -> str:
    """Text read as a date, as UTC ISO text to the minute (to the second with unit ``s``)."""
    floor_unit = "m" if unit is None or unit == "" else to_text(unit)
    value = floor_to(_read_date(text, pattern), floor_unit)
    return render_seconds(value) if floor_unit == "s" else render_minutes(value)


def _read_date(text: Any, pattern: Any) -> dt.datetime:
    if isinstance(text, dt.datetime):
        return instant(text)
    if pattern is None or pattern == "":
        if not isinstance(text, str):
            raise invalid(f"DATE needs the date as text, got {to_text(text)!r}")
        return parse_date_text(text)
    if not isinstance(text, str) and not is_number(text):
        raise invalid(f"DATE needs the date as text, got {to_text(text)!r}")
    return parse_with_format(to_text(text), to_text(pattern))


def _dates_of(arguments: tuple[Any, ...]) -> list[Any]:
    """The dates given as arguments or as one array (DATE_MAX([a, b]) or DATE_MAX(a, b))."""
    items: list[Any] = []
    for argument in arguments:
        items.extend(argument if isinstance(argument, list) else [argument])
    if not items:
        raise invalid("no dates given")
    return items


@register("DATE_MAX", 1, None)
def date_max(*arguments: Any) -> Any:
    """The latest of the dates, as it was given."""
    return max(_dates_of(arguments), key=instant)


@register("DATE_MIN", 1, None)
def date_min(*arguments: Any) -> Any:
    """The earliest of the dates, as it was given."""
    return min(_dates_of(arguments), key=instant)


_DIFF_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "H": "hour",
    "d": "day",
    "D": "day",
    "w": "week",
    "W": "week",
    "M": "month",
    "Q": "quarter",
    "y": "year",
    "Y": "year",
}
_UNIT_NAMES = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})


def _unit(value: Any) -> str:
    """A time unit: a Day.js letter (``m`` minutes, ``M`` months) or a name (``days``)."""
    text = to_text(value).strip()
    if text in _DIFF_UNITS:
        return _DIFF_UNITS[text]
    name = text.lower().removesuffix("s")
    if name in _UNIT_NAMES:
        return name
    raise invalid(f"unknown time unit {text!r}")


def _truncate(number: float) -> int:
    """Toward zero, as Day.js rounds a difference."""
    return math.trunc(number)


_MILLIS = {"second": 1e3, "minute": 6e4, "hour": 3.6e6, "day": 8.64e7, "week": 6.048e8}
_MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


@register("DATEDIFF", 3)
def datediff(first: Any, second: Any, unit: Any) -> int:
    """``first - second`` in whole units, toward zero; days and weeks on CET wall clocks."""
    a, b = in_default_zone(instant(first)), in_default_zone(instant(second))
    name = _unit(unit)
    if name in _MONTHS_PER:
        return _truncate(month_difference(a, b) / _MONTHS_PER[name])
    millis = (a - b).total_seconds() * 1000
    if name in ("day", "week"):
        # Day.js counts days between wall clocks: a summer-time hour does not shorten a day.
        millis += (_offset(a) - _offset(b)).total_seconds() * 1000
    return _truncate(millis / _MILLIS[name])


def _offset(value: dt.datetime) -> dt.timedelta:
    return value.utcoffset() or dt.timedelta()


def add_months(value: dt.datetime, months: int) -> dt.datetime:
    """``value`` moved by whole months on its wall clock, the day kept within the month."""
    index = value.year * 12 + value.month - 1 + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise invalid("the date is out of range")
    last = _days_in_month(year, month0 + 1)
    return value.replace(year=year, month=month0 + 1, day=min(value.day, last))


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def month_difference(a: dt.datetime, b: dt.datetime) -> float:
    """``a - b`` in months with the fraction of the month the rest is (moment.js' rule)."""
    if a.day < b.day:
        return -month_difference(b, a)
    whole = (b.year - a.year) * 12 + (b.month - a.month)
    anchor = add_months(a, whole)
    before = b < anchor
    anchor2 = add_months(a, whole + (-1 if before else 1))
    span = (anchor - anchor2) if before else (anchor2 - anchor)
    fraction = (b - anchor) / span if span else 0.0
    return -(whole + fraction) + 0.0


def _whole_amount(value: Any) -> int:
    number = to_number(value)
    if number is None or not math.isfinite(number):
        raise invalid(f"not a number: {to_text(value)!r}")
    # JavaScript's Math.round: halves go up.
    return math.floor(number + 0.5)


@register("DATE_COMPUTE", 2)
def date_compute(value: Any, days: Any) -> str:
    """The date (in CET) that many days after ``value``, ``2021-12-21``."""
    moved = _add(in_default_zone(instant(value)), _whole_amount(days), "day")
    return wall_date(moved)


@register("DATETIME_COMPUTE", 3)
def datetime_compute(value: Any, amount: Any, unit: Any) -> str:
    """``value`` moved by ``amount`` units (s, m, h, d, w, M, y), as UTC ``YYYY-MM-DDTHH:mm:ss``."""
    moved = _add(in_default_zone(instant(value)), _whole_amount(amount), _unit(unit))
    return render_seconds(moved)


def _add(value: dt.datetime, amount: int, unit: str) -> dt.datetime:
    try:
        if unit in _MONTHS_PER:
            return add_months(value, amount * _MONTHS_PER[unit])
        if unit in ("day", "week"):
            # Days move the wall clock (a day across a summer-time change is 23 or 25 hours).
            days = amount * (7 if unit == "week" else 1)
            wall = value.replace(tzinfo=None) + dt.timedelta(days=days)
            return wall.replace(tzinfo=value.tzinfo)
        return value + dt.timedelta(milliseconds=amount * _MILLIS[unit])
    except OverflowError as exc:
        raise invalid("the date is out of range") from exc


@register("DATE_FORMAT", 2)
def date_format(value: Any, pattern: Any) -> str:
    """The date written with a Day.js format, in UTC (``DD.MM.YYYY`` -> ``15.04.2024``)."""
    return format_date(instant(value), to_text(pattern))


@register("DAY", 1)
def day(value: Any) -> int:
    """The day of the month, in CET."""
    return in_default_zone(instant(value)).day


@register("MONTH", 1)
def month(value: Any) -> int:
    """The month (1-12), in CET."""
    return in_default_zone(instant(value)).month


@register("YEAR", 1)
def year(value: Any) -> int:
    """The year, in CET."""
    return in_default_zone(instant(value)).year


@register("WEEKDAY", 1)
def weekday(value: Any) -> int:
    """The day of the week in CET, 0 for Sunday to 6 for Saturday."""
    return in_default_zone(instant(value)).isoweekday() % 7
