"""Day.js format strings: writing a date (DATE_FORMAT) and reading one (DATE with a format).

The tokens are Day.js' own (``YYYY MM DD HH mm ss SSS``, ``MMMM`` month
names, ``dddd`` weekday names, ``hh a`` twelve-hour time, ``Z`` offsets,
``[text]`` kept as written; ``x`` and ``X`` timestamps when reading). Reading
looks for each token's value in order, skipping separators, as Day.js'
customParseFormat does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from flowjobs.decisions import clock
from flowjobs.decisions.dateparse import MONTHS, WEEKDAYS
from flowjobs.decisions.datetimes import (
    DEFAULT_ZONE,
    invalid,
    local_datetime,
    offset_zone,
    to_utc,
)

MAX_FORMAT = 200  # longer formats are refused: no legitimate one comes near

_DISPLAY_TOKENS = re.compile(
    r"\[(?P<escaped>[^\]]*)\]|YYYY|YY|M{1,4}|Do|D{1,2}|d{1,4}|H{1,2}|h{1,2}|a|A|m{1,2}|s{1,2}|ZZ|Z|SSS"
)


def format_date(value: dt.datetime, pattern: str) -> str:
    """``value`` written with the Day.js ``pattern``, in the zone ``value`` carries."""
    if len(pattern) > MAX_FORMAT:
        raise invalid("the date format is too long")

    def replace(match: re.Match[str]) -> str:
        escaped = match.group("escaped")
        return escaped if escaped is not None else _display(value, match.group(0))

    return _DISPLAY_TOKENS.sub(replace, pattern)


def _display(value: dt.datetime, token: str) -> str:
    writer = _WRITERS.get(token)
    return writer(value) if writer else token


def _twelve_hour(value: dt.datetime) -> int:
    return value.hour % 12 or 12


def _offset_text(value: dt.datetime, separator: str) -> str:
    offset = value.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{separator}{rest:02d}"


def _weekday(value: dt.datetime) -> int:
    """0 for Sunday to 6 for Saturday, as JavaScript counts."""
    return value.isoweekday() % 7


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


_WRITERS: dict[str, Callable[[dt.datetime], str]] = {
    "YY": lambda v: f"{v.year % 100:02d}",
    "YYYY": lambda v: f"{v.year:04d}",
    "M": lambda v: str(v.month),
    "MM": lambda v: f"{v.month:02d}",
    "MMM": lambda v: MONTHS[v.month - 1][:3].capitalize(),
    "MMMM": lambda v: MONTHS[v.month - 1].capitalize(),
    "D": lambda v: str(v.day),
    "DD": lambda v: f"{v.day:02d}",
    "Do": lambda v: _ordinal(v.day),
    "d": lambda v: str(_weekday(v)),
    "dd": lambda v: WEEKDAYS[_weekday(v)][:2].capitalize(),
    "ddd": lambda v: WEEKDAYS[_weekday(v)][:3].capitalize(),
    "dddd": lambda v: WEEKDAYS[_weekday(v)].capitalize(),
    "H": lambda v: str(v.hour),
    "HH": lambda v: f"{v.hour:02d}",
    "h": lambda v: str(_twelve_hour(v)),
    "hh": lambda v: f"{_twelve_hour(v):02d}",
    "a": lambda v: "pm" if v.hour >= 12 else "am",
    "A": lambda v: "PM" if v.hour >= 12 else "AM",
    "m": lambda v: str(v.minute),
    "mm": lambda v: f"{v.minute:02d}",
    "s": lambda v: str(v.second),
    "ss": lambda v: f"{v.second:02d}",
    "SSS": lambda v: f"{v.microsecond // 1000:03d}",
    "Z": lambda v: _offset_text(v, ":"),
    "ZZ": lambda v: _offset_text(v, ""),
}


# --- reading -------------------------------------------------------------------------------

_PARSE_TOKENS = re.compile(
    r"\[(?P<escaped>[^\]]*)\]|(?P<separator>[-_:/.,()\s]+)"
    r"|(?P<token>YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|HH|H|hh|h|mm|m|ss|s|SSS|SS|S|ZZ|Z|A|a|x|X)"
)
_ONE_OR_TWO = re.compile(r"\d\d?")
_WORD = re.compile(r"\d*[^-_:/,()\s\d]+")
_OFFSET = re.compile(r"[+-]\d\d:?(?:\d\d)?|Z")


@dataclass(slots=True)
class _Fields:
    """What a format found in the text."""

    year: int | None = None
    month: int | None = None  # 1-12
    day: int | None = None
    hours: int = 0
    minutes: int = 0
    seconds: int = 0
    millis: int = 0
    pm: bool | None = None
    zone: dt.tzinfo | None = None
    timestamp_ms: float | None = None


def _set_year2(fields: _Fields, text: str) -> None:
    number = int(text)
    fields.year = number + (1900 if number > 68 else 2000)


def _set_month_name(fields: _Fields, text: str) -> None:
    word = text.lower()
    for index, name in enumerate(MONTHS):
        if word in (name, name[:3]):
            fields.month = index + 1
            return
    raise invalid(f"not a month name: {text!r}")


def _set_zone(fields: _Fields, text: str) -> None:
    fields.zone = offset_zone(text)
    if fields.zone is None:
        raise invalid(f"not an offset: {text!r}")


def _set_timestamp(fields: _Fields, text: str, scale: float) -> None:
    fields.timestamp_ms = float(text) * scale


def _setter(name: str) -> Callable[[_Fields, str], None]:
    def set_number(fields: _Fields, text: str) -> None:
        digits = re.sub(r"\D", "", text)
        if not digits:
            raise invalid(f"not a number: {text!r}")
        setattr(fields, name, int(digits))

    return set_number


def _set_fraction(scale: int) -> Callable[[_Fields, str], None]:
    def set_millis(fields: _Fields, text: str) -> None:
        fields.millis = int(text) * scale

    return set_millis


def _set_meridiem(fields: _Fields, text: str) -> None:
    fields.pm = text.lower().startswith("p")


_READERS: dict[str, tuple[re.Pattern[str], Callable[[_Fields, str], None]]] = {
    "YYYY": (re.compile(r"\d{4}"), _setter("year")),
    "YY": (re.compile(r"\d\d"), _set_year2),
    "M": (_ONE_OR_TWO, _setter("month")),
    "MM": (_ONE_OR_TWO, _setter("month")),
    "MMM": (_WORD, _set_month_name),
    "MMMM": (_WORD, _set_month_name),
    "D": (_ONE_OR_TWO, _setter("day")),
    "DD": (_ONE_OR_TWO, _setter("day")),
    "Do": (_WORD, _setter("day")),
    "H": (_ONE_OR_TWO, _setter("hours")),
    "HH": (_ONE_OR_TWO, _setter("hours")),
    "h": (_ONE_OR_TWO, _setter("hours")),
    "hh": (_ONE_OR_TWO, _setter("hours")),
    "m": (_ONE_OR_TWO, _setter("minutes")),
    "mm": (_ONE_OR_TWO, _setter("minutes")),
    "s": (_ONE_OR_TWO, _setter("seconds")),
    "ss": (_ONE_OR_TWO, _setter("seconds")),
    "S": (re.compile(r"\d"), _set_fraction(100)),
    "SS": (re.compile(r"\d\d"), _set_fraction(10)),
    "SSS": (re.compile(r"\d{3}"), _set_fraction(1)),
    "Z": (_OFFSET, _set_zone),
    "ZZ": (_OFFSET, _set_zone),
    "A": (_WORD, _set_meridiem),
    "a": (_WORD, _set_meridiem),
    "x": (re.compile(r"[+-]?\d+"), lambda f, t: _set_timestamp(f, t, 1.0)),
    "X": (re.compile(r"[+-]?\d+(?:\.\d{1,3})?"), lambda f, t: _set_timestamp(f, t, 1000.0)),
}


def parse_with_format(text: str, pattern: str, zone: dt.tzinfo = DEFAULT_ZONE) -> dt.datetime:
    """``text`` read with the Day.js ``pattern`` as an instant in UTC; ExpressionError if it fails.

    Without a ``Z`` token the time is wall-clock time in ``zone`` (CET).
    """
    if len(pattern) > MAX_FORMAT or len(text) > MAX_FORMAT:
        raise invalid("the date or its format is too long")
    fields = _read_fields(text, pattern)
    if fields.timestamp_ms is not None:
        return _from_timestamp(fields.timestamp_ms)
    return _build(fields, zone)


def _read_fields(text: str, pattern: str) -> _Fields:
    fields = _Fields()
    position = 0
    for match in _PARSE_TOKENS.finditer(pattern):
        token = match.group("token")
        if token is None:
            # Separators and [escaped text] stand for as many characters of the date.
            escaped = match.group("escaped")
            position += len(escaped if escaped is not None else match.group(0))
            continue
        regex, setter = _READERS[token]
        found = regex.search(text, position)
        if found is None:
            raise invalid(f"{text!r} does not fit the date format {pattern!r}")
        setter(fields, found.group(0))
        position = found.end()
    return fields


def _from_timestamp(millis: float) -> dt.datetime:
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    except OverflowError as exc:
        raise invalid("the timestamp is out of range") from exc


def _hours_of(fields: _Fields) -> int:
    """The hour on a 24-hour clock, after AM/PM."""
    if fields.pm is None:
        return fields.hours
    if fields.pm:
        return fields.hours + 12 if fields.hours < 12 else fields.hours
    return 0 if fields.hours == 12 else fields.hours


def _build(fields: _Fields, zone: dt.tzinfo) -> dt.datetime:
    """Day.js' defaults: no year is this year, no month this month (January after a year)."""
    today = clock.now().astimezone(zone).date()
    year = fields.year if fields.year is not None else today.year
    if fields.month is not None:
        month0 = fields.month - 1
    else:
        month0 = 0 if fields.year is not None else today.month - 1
    if fields.day is not None:
        day = fields.day
    else:
        day = today.day if fields.year is None and fields.month is None else 1
    time = (_hours_of(fields), fields.minutes, fields.seconds, fields.millis)
    return to_utc(local_datetime(year, month0, day, time, fields.zone or zone))
