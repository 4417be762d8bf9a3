"""The date operators of condition cells (``"type": "date"``): =, !=, >, <, >=, <=, BTW, !BTW.

A date cell holds text in DecisionRules' recommended form
``YYYY-MM-DD HH:mm:ss Z`` (``2024-09-24 09:27 +02:00``), where parts may be
left out: no time is midnight, no date is today (``09:27 +02:00``, ``+02:00``)
in the cell's zone, no zone is UTC (the date picker's default GMT). Other date
text is read as DATE reads it (in UTC). Request values may be the same text,
extended ISO 8601 (``2024-09-24T09:27:00+02:00``) or the deprecated object
``{"date": "2024-09-24", "time": "09:27", "timezone": "+02:00"}``. Dates
compare as instants; a request value that is no date matches only ``!=``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowjobs.decisions import (
    clock,
    general_operators,  # noqa: F401  (their spellings, first)
)
from flowjobs.decisions.dateparse import parse_date_text
from flowjobs.decisions.datetimes import offset_zone
from flowjobs.decisions.operators import (
    OperandKind,
    OperatorSpec,
    find_operator,
    register_operator,
)
from flowjobs.decisions.problems import ExpressionError
from flowjobs.decisions.values import to_text

_MAX_DATE_TEXT = 200  # no date is longer; longer text is no date, without reading it
_CELL = re.compile(
    r"(?P<date>\d{4}[-/]\d{1,2}[-/]\d{1,2})?"
    r"(?:(?:^|[Tt\s]+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?|(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d{2})?)?)?"
)


@dataclass(frozen=True, slots=True)
class TodayAt:
    """A date cell without a date (``09:27 +02:00``, ``+02:00``): that time today, in its zone."""

    time: dt.time
    zone: dt.tzinfo

    def at(self, now: dt.datetime) -> dt.datetime:
        """The instant this stands for when the current instant is ``now``."""
        wall = dt.datetime.combine(now.astimezone(self.zone).date(), self.time)
        return wall.replace(tzinfo=self.zone)


@dataclass(frozen=True, slots=True)
class FixedDate:
    """A date that is one instant whatever the time (a cell with a date, ISO text, DATE's)."""

    value: dt.datetime

    def at(self, now: dt.datetime) -> dt.datetime:
        return self.value


DateValue = TodayAt | FixedDate


def parse_date_value(value: Any) -> DateValue | None:
    """A cell's or a request's date; None when it is not one."""
    if isinstance(value, TodayAt | FixedDate):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return FixedDate(aware)
    if isinstance(value, Mapping):
        return _parse_object(value)
    if isinstance(value, str) and value.strip() and len(value) <= _MAX_DATE_TEXT:
        return _parse_text(value.strip())
    return None


def _parse_object(value: Mapping[str, Any]) -> DateValue | None:
    """The deprecated ``{"date", "time", "timezone"}`` form."""
    parts = [value.get(key) for key in ("date", "time", "timezone")]
    if not any(isinstance(part, str) and part.strip() for part in parts):
        return None
    text = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> DateValue | None:
    # Cached: a request's date is tested against every row of a table.
    match = _CELL.fullmatch(text)
    if match and any(match.group(name) for name in ("date", "time", "zone")):
        return _cell_of(match)
    try:
        return FixedDate(parse_date_text(text, dt.UTC))
    except ExpressionError:
        return None


def _cell_of(match: re.Match[str]) -> DateValue | None:
    zone = offset_zone(match.group("zone")) if match.group("zone") else dt.UTC
    if zone is None:
        return None
    try:
        day = _date_of(match.group("date")) if match.group("date") else None
        time_text = match.group("time")
        time = dt.time.fromisoformat(_padded_time(time_text)) if time_text else None
    except ValueError:
        return None
    if day is None:
        return TodayAt(time or dt.time(), zone)
    return FixedDate(dt.datetime.combine(day, time or dt.time()).replace(tzinfo=zone))


def _date_of(text: str) -> dt.date:
    year, month, day = (int(part) for part in re.split(r"[-/]", text))
    return dt.date(year, month, day)


def _padded_time(text: str) -> str:
    hours, rest = text.split(":", 1)
    whole, _, fraction = rest.partition(".")
    padded = f"{int(hours):02d}:{whole}"
    return f"{padded}.{fraction[:6].ljust(6, '0')}" if fraction else padded


# --- the operators ---------------------------------------------------------------------------


def prepare(value: Any) -> DateValue | tuple[Any, ...]:
    """A table value (or a pair of them) read once; ExpressionError if it is no date.

    A literal cell that is no date is refused when the rule is validated
    ("Invalid Date", as DecisionRules' editor says); a variable that is none
    makes its row not match.
    """
    if isinstance(value, list | tuple):
        return tuple(prepare(item) for item in value)
    parsed = parse_date_value(value)
    if parsed is None:
        raise ExpressionError(f"invalid date {to_text(value)!r}")
    return parsed


def _instants(*values: Any) -> list[dt.datetime] | None:
    """The instants of a request and table values, read now; None if one is no date."""
    dates: list[DateValue] = []
    for value in values:
        date = parse_date_value(value)
        if date is None:
            return None
        dates.append(date)
    # The clock is read only for cells without a date ("09:27 +02:00").
    now = clock.now() if any(isinstance(date, TodayAt) for date in dates) else _NO_TIME
    try:
        return [date.at(now) for date in dates]
    except OverflowError:  # today in a zone past the end of the calendar
        return None


_NO_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _comparison(check: Callable[[dt.datetime, dt.datetime], bool]) -> Callable[[Any, Any], bool]:
    def test(request: Any, table: Any) -> bool:
        pair = _instants(request, table)
        return pair is not None and check(*pair)

    return test


def _not_equal(request: Any, table: Any) -> bool:
    pair = _instants(request, table)
    return pair is None or pair[0] != pair[1]


_RANGE_SPLIT = re.compile(r"\s+AND\s+|\s*[,;|]\s*", re.IGNORECASE)


def range_bounds(operand: Any) -> tuple[Any, Any] | None:
    """The two bounds of a range: a pair, ``{"from", "to"}``, or text ``a AND b`` / ``a, b``."""
    if isinstance(operand, list | tuple) and len(operand) == 2:
        return operand[0], operand[1]
    if isinstance(operand, Mapping) and "from" in operand and "to" in operand:
        return operand["from"], operand["to"]
    if isinstance(operand, str):
        text = operand.strip().removeprefix("[").removesuffix("]")
        pieces = _RANGE_SPLIT.split(text, maxsplit=1) if text else []
        if len(pieces) == 2:
            return pieces[0], pieces[1]
    return None


def _between(low_open: bool, high_open: bool) -> Callable[[Any, Any], bool]:
    def test(request: Any, operand: Any) -> bool:
        bounds = range_bounds(operand)
        if bounds is None:
            return False
        instants = _instants(request, *bounds)
        if instants is None:
            return False
        value, low, high = instants
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    return test


def _not_between(request: Any, operand: Any) -> bool:
    bounds = range_bounds(operand)
    if bounds is None or parse_date_value(request) is None:
        return False
    return not _between(False, False)(request, operand)


def _date_operator(
    name: str, test: Callable[[Any, Any], bool], operand: OperandKind = "value"
) -> OperatorSpec:
    # The same spellings as the general operator of that name (">", "GT"), so a date cell
    # never falls back to comparing dates as text.
    general = find_operator(name, "general")
    spellings = {general.name, *general.aliases} if general is not None else set()
    aliases = tuple(sorted(spellings - {name}))
    # Never ``equality``: "2024-09-24 +02:00" and "2024-09-23T22:00Z" are equal, so rows
    # cannot be found by hashing the cell text.
    return OperatorSpec(name, test, operand, aliases, cell_type="date", prepare=prepare)


DATE_OPERATORS = (
    _date_operator("=", _comparison(lambda a, b: a == b)),
    _date_operator("<>", _not_equal),
    _date_operator(">", _comparison(lambda a, b: a > b)),
    _date_operator("<", _comparison(lambda a, b: a < b)),
    _date_operator(">=", _comparison(lambda a, b: a >= b)),
    _date_operator("<=", _comparison(lambda a, b: a <= b)),
    _date_operator("BTW", _between(False, False), "range"),
    _date_operator("BTW LO", _between(True, False), "range"),
    _date_operator("BTW RO", _between(False, True), "range"),
    _date_operator("!BTW", _not_between, "range"),
)

for _spec in DATE_OPERATORS:
    register_operator(_spec)
