"""Reading date text as DecisionRules' DATE function does.

Without a format, DATE reads text as Day.js does: ``2021-12-25T23:00`` and
``2021/12/25`` as local wall-clock time in CET with overflowing parts carried
over (day 33 of December is 2 January), anything else as JavaScript's Date
reads it (``12/25/2021``, ``2.20.2022 15:00 GMT+3``, ``Dec 25 2021``; month
first), and a trailing ``Z`` as UTC. With a format (Day.js tokens:
``DD/MM/YYYY HH:mm Z``), each token is looked for in order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flowjobs.decisions.datetimes import (
    DEFAULT_ZONE,
    invalid,
    local_datetime,
    offset_zone,
    parse_iso,
    to_utc,
)

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

# Day.js' own pattern for ISO-like text without a zone (year first, parts optional).
_DAYJS_ISO = re.compile(
    r"(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?"
)
_MAX_TEXT = 200  # no date is longer; longer text is refused before any parsing


def parse_date_text(text: str, zone: dt.tzinfo = DEFAULT_ZONE) -> dt.datetime:
    """``text`` as an instant in UTC; ExpressionError when it is not a date.

    Text without a zone is wall-clock time in ``zone`` (CET unless told).
    """
    stripped = text.strip()
    if not stripped or len(stripped) > _MAX_TEXT:
        raise invalid(f"not a date: {text!r}")
    if stripped[-1] in "Zz":
        # A trailing Z: the text is UTC (DecisionRules' documented way to skip CET).
        return _parse_zoned(stripped[:-1].strip(), dt.UTC, text)
    match = _DAYJS_ISO.fullmatch(stripped)
    if match:
        return _from_dayjs_match(match, zone)
    return _parse_zoned(stripped, zone, text)


def _from_dayjs_match(match: re.Match[str], zone: dt.tzinfo) -> dt.datetime:
    year, month, day, hours, minutes, seconds, fraction = match.groups()
    # Day.js: a missing month is January; "0" is month -1 (December before), as Date does.
    month0 = int(month) - 1 if month else 0
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    time = (int(hours or 0), int(minutes or 0), int(seconds or 0), millis)
    return to_utc(local_datetime(int(year), month0, int(day) if day else 1, time, zone))


def _parse_zoned(text: str, zone: dt.tzinfo, original: str) -> dt.datetime:
    iso = _parse_iso_local(text, zone)
    if iso is not None:
        return iso
    parts = _LegacyScanner(text).scan()
    if parts is None:
        raise invalid(f"not a date: {original!r}")
    return parts.to_instant(zone)


def _parse_iso_local(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    """ISO text; without an offset it is wall-clock time in ``zone``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
        return None
    has_offset = re.search(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$", text) is not None
    parsed = parse_iso(text)
    if parsed is None:
        return None
    if has_offset:
        return parsed
    return to_utc(parsed.replace(tzinfo=None).replace(tzinfo=zone))


@dataclass(slots=True)
class _LegacyParts:
    """What the JavaScript-style reading found; missing time is midnight."""

    year: int | None = None
    month0: int | None = None
    day: int | None = None
    time: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    zone: dt.tzinfo | None = None
    pm: bool | None = None

    def to_instant(self, zone: dt.tzinfo) -> dt.datetime:
        if self.year is None or self.month0 is None or self.day is None:
            raise invalid("not a date: no year, month and day")
        hours = self.time[0]
        if self.pm is not None:
            hours = hours % 12 + (12 if self.pm else 0)
        time = (hours, self.time[1], self.time[2], self.time[3])
        return to_utc(local_datetime(self.year, self.month0, self.day, time, self.zone or zone))


_TOKEN = re.compile(
    r"(?P<skip>[\s,]+|\([^()]*\))"  # JavaScript skips "(Central European Time)" too
    r"|(?P<mdy>(?P<m>\d{1,2})(?P<sep>[/.-])(?P<d>\d{1,2})(?P=sep)(?P<y>\d{2,4}))"
    r"|(?P<ymd>(?P<y2>\d{4})(?P<sep2>[/.-])(?P<m2>\d{1,2})(?P=sep2)(?P<d2>\d{1,2}))"
    r"|(?P<time>[Tt]?(?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:\.(?P<ms>\d{1,9}))?)?)"
    r"|(?P<ampm>[AaPp]\.?[Mm]\.?)(?![A-Za-z])"
    r"|(?P<zone>(?:GMT|UTC|UT)(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{1,2}(?::?\d{2})?(?![\d/.-]))"
    r"|(?P<word>[A-Za-z]+\.?)"
    r"|(?P<number>\d{1,4})"
)


class _LegacyScanner:
    """Month-first dates, times, AM/PM, GMT offsets and month names, as JavaScript reads them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts = _LegacyParts()
        self.numbers: list[int] = []

    def scan(self) -> _LegacyParts | None:
        position = 0
        while position < len(self.text):
            match = _TOKEN.match(self.text, position)
            if match is None or not self._take(match):
                return None
            position = match.end()
        return self._finish()

    def _take(self, match: re.Match[str]) -> bool:
        kind = _kind_of(match)
        if kind == "skip":
            return True
        if kind == "mdy":
            year = _full_year(match.group("y"))
            return self._set_date(year, int(match.group("m")), int(match.group("d")))
        if kind == "ymd":
            year = int(match.group("y2"))
            return self._set_date(year, int(match.group("m2")), int(match.group("d2")))
        if kind == "time":
            return self._set_time(match)
        if kind == "ampm":
            self.parts.pm = match.group("ampm").lower().startswith("p")
            return True
        if kind == "zone":
            return self._set_zone(match.group("zone"))
        if kind == "word":
            return self._take_word(match.group("word").rstrip(".").lower())
        self.numbers.append(int(match.group("number")))
        return len(self.numbers) <= 2

    def _set_date(self, year: int, month: int, day: int) -> bool:
        if self.parts.year is not None or not (1 <= month <= 12 and 1 <= day <= 31):
            return False
        self.parts.year, self.parts.month0, self.parts.day = year, month - 1, day
        return True

    def _set_time(self, match: re.Match[str]) -> bool:
        hours, minutes = int(match.group("hh")), int(match.group("mi"))
        seconds = int(match.group("ss") or 0)
        millis = int((match.group("ms") or "0")[:3].ljust(3, "0"))
        if hours > 24 or minutes > 59 or seconds > 59:
            return False
        self.parts.time = [hours, minutes, seconds, millis]
        return True

    def _set_zone(self, text: str) -> bool:
        upper = text.upper()
        if upper.startswith(("GMT", "UTC", "UT")):
            rest = upper.removeprefix("GMT").removeprefix("UTC").removeprefix("UT")
            zone = dt.UTC if not rest else _hours_offset(rest)
        else:
            zone = _hours_offset(text)
        self.parts.zone = zone
        return zone is not None

    def _take_word(self, word: str) -> bool:
        month = _name_index(word, MONTHS)
        if month is not None:
            if self.parts.month0 is not None:
                return False
            self.parts.month0 = month
            return True
        # A weekday name says nothing JavaScript checks; other words are not dates.
        return _name_index(word, WEEKDAYS) is not None

    def _finish(self) -> _LegacyParts | None:
        parts = self.parts
        if parts.year is None and parts.month0 is not None:
            # "Dec 25 2021", "25 December 2021": the day and the year are the bare numbers.
            if len(self.numbers) != 2:
                return None
            first, second = self.numbers
            day, year = (first, second) if first <= 31 and second > 31 else (second, first)
            if not 1 <= day <= 31:
                return None
            parts.day, parts.year = day, _full_year(str(year))
        elif self.numbers:
            return None
        return parts


def _kind_of(match: re.Match[str]) -> str:
    for kind in ("skip", "mdy", "ymd", "time", "ampm", "zone", "word"):
        if match.group(kind) is not None:
            return kind
    return "number"


def _hours_offset(text: str) -> dt.tzinfo | None:
    """``+3`` (hours), ``+0300``, ``+03:00`` as a fixed zone."""
    match = re.fullmatch(r"([+-])(\d{1,2})(?::?(\d{2}))?", text)
    if match is None:
        return None
    if match.group(3) is None and len(match.group(2)) <= 2:
        return offset_zone(f"{match.group(1)}{int(match.group(2)):02d}:00")
    return offset_zone(text)


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        # JavaScript's Date: two-digit years below 50 are 20xx, the rest 19xx.
        return year + (2000 if year < 50 else 1900)
    return year


def _name_index(word: str, names: tuple[str, ...]) -> int | None:
    """The index of the English name ``word`` starts (at least three letters), or None."""
    if len(word) < 3:
        return None
    for index, name in enumerate(names):
        if name.startswith(word) or (len(word) > len(name) and word.startswith(name)):
            return index
    return None
