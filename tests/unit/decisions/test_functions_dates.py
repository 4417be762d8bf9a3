"""Every example of the date and time functions page, and the rules behind them.

Source: rules_data-types-and-functions_operators_functions_date-and-time.md.
Each case is (expression, input data, expected, the instant "now" is). The
page's NOW/CURDATE/CURTIME examples were taken at 2021-06-01 11:01 UTC (11:16
for CURTIME); DATE reads dates without a zone in CET and returns UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dr_testkit import INVALID, check

from flowjobs.decisions.clock import fixed_clock
from flowjobs.decisions.evaluator import evaluate_text

UTC = dt.UTC
PAGE_NOW = dt.datetime(2021, 6, 1, 11, 1, tzinfo=UTC)
CURTIME_NOW = dt.datetime(2021, 6, 1, 11, 16, tzinfo=UTC)
# The page's CURDATE("+10:00") -> "2021-07-01" can only be true near the end of a month:
# at 14:01 UTC on 30 June it is 00:01 on 1 July ten hours east.
MONTH_END_NOW = dt.datetime(2021, 6, 30, 14, 1, tzinfo=UTC)

Case = tuple[str, dict[str, Any] | None, Any, dt.datetime]

PAGE: list[Case] = [
    # the hint at the top of the page
    ('DATE("04.16.2024Z")', None, "2024-04-16T00:00", PAGE_NOW),
    ('DATE("04.16.2024 15:30 Z")', None, "2024-04-16T15:30", PAGE_NOW),
    # NOW
    ("NOW()", None, "2021-06-01T11:01", PAGE_NOW),
    ('NOW("+08:00")', None, "2021-06-01T19:01", PAGE_NOW),
    ('NOW("-08:00")', None, "2021-06-01T03:01", PAGE_NOW),
    ("NOW({input})", {"input": "+02:00"}, "2021-06-01T13:01", PAGE_NOW),
    ("NOW(1)", None, INVALID, PAGE_NOW),
    ('NOW("abc")', None, INVALID, PAGE_NOW),
    # CURDATE
    ("CURDATE()", None, "2021-06-01", PAGE_NOW),
    ('CURDATE("+08:00")', None, "2021-06-01", PAGE_NOW),
    ('CURDATE("-02:00")', None, "2021-06-01", PAGE_NOW),
    ("CURDATE({input})", {"input": "+02:00"}, "2021-06-01", PAGE_NOW),
    ('CURDATE("+10:00")', None, "2021-07-01", MONTH_END_NOW),
    ("CURDATE(1)", None, INVALID, PAGE_NOW),
    ('CURDATE("xx")', None, INVALID, PAGE_NOW),
    # CURTIME
    ("CURTIME()", None, "11:16", CURTIME_NOW),
    ('CURTIME("-02:00")', None, "09:16", CURTIME_NOW),
    ('CURTIME("+08:00")', None, "19:16", CURTIME_NOW),
    ("CURTIME({input})", {"input": "+02:00"}, "13:16", CURTIME_NOW),
    ("CURTIME(1)", None, INVALID, CURTIME_NOW),
    ('CURTIME("xx")', None, INVALID, CURTIME_NOW),
    # DATE
    ('DATE("2021-12-25T23:00")', None, "2021-12-25T22:00", PAGE_NOW),
    ('DATE("12/25/2021")', None, "2021-12-24T23:00", PAGE_NOW),
    ("DATE({input})", {"input": "12/25/2021"}, "2021-12-24T23:00", PAGE_NOW),
    ('DATE("12/25/2021 Z")', None, "2021-12-25T00:00", PAGE_NOW),
    ('DATE("12.25.2021 Z")', None, "2021-12-25T00:00", PAGE_NOW),
    ("DATE({input}Z)", {"input": "12/25/2021"}, "2021-12-25T00:00", PAGE_NOW),
    ('DATE("2.20.2022 GMT+3")', None, "2022-02-19T21:00", PAGE_NOW),
    ('DATE("2.20.2022 15:00 GMT+3")', None, "2022-02-20T12:00", PAGE_NOW),
    ('DATE("18/06/2022T08:15","DD/MM/YYYYTHH:mm")', None, "2022-06-18T06:15", PAGE_NOW),
    ('DATE("18.06.2022 08:15 +03:00","DD.MM.YYYY HH:mm Z")', None, "2022-06-18T05:15", PAGE_NOW),
    (
        'DATE("18/06/2022T08:15:44","DD/MM/YYYYTHH:mm:ss", "s")',
        None,
        "2022-06-18T06:15:44",
        PAGE_NOW,
    ),
    ('DATE("18/06/2022T08:15:44","DD/MM/YYYYTHH:mm:ss", "m")', None, "2022-06-18T06:15", PAGE_NOW),
    ('DATE("18/06/2022T08:15:44","DD/MM/YYYYTHH:mm:ss", "h")', None, "2022-06-18T06:00", PAGE_NOW),
    ('DATE("1710510160000", "x")', None, "2024-03-15T13:42", PAGE_NOW),
    ("DATE()", None, INVALID, PAGE_NOW),
    ("DATE(12/25/2021)", None, INVALID, PAGE_NOW),
    # DATE: out-of-range days and months carry over
    ('DATE("2021-12-33T22:00")', None, "2022-01-02T21:00", PAGE_NOW),
    ('DATE("02/30/2022")', None, "2022-03-01T23:00", PAGE_NOW),
    ('DATE("2023-13-30T22:00")', None, "2024-01-30T21:00", PAGE_NOW),
    ('DATE("2022-18-04T12:00")', None, "2023-06-04T10:00", PAGE_NOW),
    # DATE_MAX
    (
        'DATE_MAX(DATE("2002-11-25T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"), '
        'DATE("2002-11-29T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"))',
        None,
        "2002-11-29T11:45:30",
        PAGE_NOW,
    ),
    (
        'DATE_MAX([DATE("2002-11-25T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"), '
        'DATE("2002-11-29T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s")])',
        None,
        "2002-11-29T11:45:30",
        PAGE_NOW,
    ),
    (
        'DATE_MAX(DATE("2002/11/25 12:45:30", "YYYY/MM/DD HH:mm:ss", "s"), '
        'DATE("2002/11/29 12:45:30", "YYYY/MM/DD HH:mm:ss", "s"))',
        None,
        "2002-11-29T11:45:30",
        PAGE_NOW,
    ),
    # DATE_MIN: the page repeats DATE_MAX's result ("2002-11-29T11:45:30") under the
    # minimum's examples; the minimum of the 25th and the 29th is the 25th.
    (
        'DATE_MIN(DATE("2002-11-25T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"), '
        'DATE("2002-11-29T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"))',
        None,
        "2002-11-25T11:45:30",
        PAGE_NOW,
    ),
    (
        'DATE_MIN([DATE("2002-11-25T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"), '
        'DATE("2002-11-29T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s")])',
        None,
        "2002-11-25T11:45:30",
        PAGE_NOW,
    ),
    (
        'DATE_MIN(DATE("2002/11/25 12:45:30", "YYYY/MM/DD HH:mm:ss", "s"), '
        'DATE("2002/11/29 12:45:30", "YYYY/MM/DD HH:mm:ss", "s"))',
        None,
        "2002-11-25T11:45:30",
        PAGE_NOW,
    ),
    # DATEDIFF
    ('DATEDIFF(DATE("01/31/2020"), DATE("01/31/2021"), "D")', None, -366, PAGE_NOW),
    ('DATEDIFF(DATE("01/31/2021"), DATE("01/31/2020"), "D")', None, 366, PAGE_NOW),
    ('DATEDIFF(DATE("01/31/2021"), DATE("01/31/2020"), "M")', None, 12, PAGE_NOW),
    ('DATEDIFF(DATE("01/31/2021"), DATE("01/31/2020"), "Y")', None, 1, PAGE_NOW),
    ('DATEDIFF(DATE({input}), DATE("12/30/2015"), "D")', {"input": "01/02/2016"}, 3, PAGE_NOW),
    # DATE_COMPUTE
    ('DATE_COMPUTE(DATE("12/01/2021"), "+20")', None, "2021-12-21", PAGE_NOW),
    ("DATE_COMPUTE(DATE({input}), +20)", {"input": "12/01/2021"}, "2021-12-21", PAGE_NOW),
    ('DATE_COMPUTE(DATE("12/30/2021"), "-20")', None, "2021-12-10", PAGE_NOW),
    ('DATE_COMPUTE(DATE("12/01/2021"))', None, INVALID, PAGE_NOW),
    ("DATE_COMPUTE()", None, INVALID, PAGE_NOW),
    # DATETIME_COMPUTE
    (
        'DATETIME_COMPUTE(DATE("12/01/2021 14:44 GMT+02:00", "DD/MM/YYYY HH:mm Z"), "+24", "h")',
        None,
        "2021-01-13T12:44:00",
        PAGE_NOW,
    ),
    (
        'DATETIME_COMPUTE(DATE({input}, "DD/MM/YYYY"), "+24", "m")',
        {"input": "12/01/2021"},
        "2021-01-11T23:24:00",
        PAGE_NOW,
    ),
    (
        'DATETIME_COMPUTE(DATE("12/30/2021", "MM/DD/YYYY"), "-24", "h")',
        None,
        "2021-12-28T23:00:00",
        PAGE_NOW,
    ),
    (
        'DATETIME_COMPUTE(DATE("2002-11-25T12:45:30", "YYYY-MM-DDTHH:mm:ss", "s"),"2","s")',
        None,
        "2002-11-25T11:45:32",
        PAGE_NOW,
    ),
    # the page gives no result for the timestamp example: DATE floors to the minute
    # (13:42), six hours later is 19:42
    (
        'DATETIME_COMPUTE(DATE("1710510160000", "x"), "6", "h")',
        None,
        "2024-03-15T19:42:00",
        PAGE_NOW,
    ),
    ('DATETIME_COMPUTE(DATE("12/01/2021", "DD/MM/YYYY"))', None, INVALID, PAGE_NOW),
    ("DATETIME_COMPUTE()", None, INVALID, PAGE_NOW),
    # DATE_FORMAT
    ('DATE_FORMAT(DATE("04/16/2024"), "DD.MM.YYYY")', None, "15.04.2024", PAGE_NOW),
    ('DATE_FORMAT(DATE("04/16/2024Z"), "DD.MM.YYYY")', None, "16.04.2024", PAGE_NOW),
    ('DATE_FORMAT(DATE({input}Z), "DD-MM-YYYY")', {"input": "04/16/2024"}, "16-04-2024", PAGE_NOW),
    ('DATE_FORMAT(DATE("04/16/2024 Z"), "DD MMMM YY")', None, "16 April 24", PAGE_NOW),
    ('DATE_FORMAT(DATE("04/16/2024 Z"), "dddd MMM YY")', None, "Tuesday Apr 24", PAGE_NOW),
    ('DATE_FORMAT(DATE("04/16/2024 Z"), "ddd")', None, "Tue", PAGE_NOW),
    (
        'DATE_FORMAT(DATE("04/16/2024 15:00 Z"), "dddd DD MMMM hh a")',
        None,
        "Tuesday 16 April 03 pm",
        PAGE_NOW,
    ),
    (
        'DATE_FORMAT(DATE("04/16/2024 15:30 GMT+5"), "dddd, MMMM D, YYYY h:mm A")',
        None,
        "Tuesday, April 16, 2024 10:30 AM",
        PAGE_NOW,
    ),
    (
        'DATE_FORMAT(DATE("04/16/2024T15:30:44","MM/DD/YYYYTHH:mm:ss", "s"), '
        '"DD.MM.YYYY HH:mm:ss")',
        None,
        "16.04.2024 13:30:44",
        PAGE_NOW,
    ),
    ('DATE_FORMAT("04/16/2024", "DD.MM.YYYY")', None, INVALID, PAGE_NOW),
    # DAY, MONTH, YEAR, WEEKDAY
    ('DAY(DATE("12-31-2025 GMT"))', None, 31, PAGE_NOW),
    ('MONTH(DATE("12/01/2021"))', None, 12, PAGE_NOW),
    ("MONTH(DATE({input}))", {"input": "12/01/2021"}, 12, PAGE_NOW),
    ("MONTH()", None, INVALID, PAGE_NOW),
    ('YEAR(DATE("12/31/2015"))', None, 2015, PAGE_NOW),
    ("YEAR(DATE({input}))", {"input": "12/01/2021"}, 2021, PAGE_NOW),
    ("YEAR()", None, INVALID, PAGE_NOW),
    ('WEEKDAY(DATE("09/05/2022"))', None, 1, PAGE_NOW),
    ("WEEKDAY(DATE({input}))", {"input": "12/01/2021"}, 3, PAGE_NOW),
    ("WEEKDAY()", None, INVALID, PAGE_NOW),
    # the data types page's result casting table: a date written without quotes
    ("DATE(09.23.2024)", None, "2024-09-22T22:00", PAGE_NOW),
]


@pytest.mark.parametrize(("expression", "data", "expected", "now"), PAGE, ids=[c[0] for c in PAGE])
def test_page_example(
    expression: str, data: dict[str, Any] | None, expected: Any, now: dt.datetime
) -> None:
    with fixed_clock(now):
        check(expression, data, expected)


# --- beyond the page: the rules the examples follow --------------------------------------------

RULES: list[tuple[str, Any]] = [
    # summer time: CET is UTC+2 in July, and a day across the change is still one day
    ('DATE("2024-07-01")', "2024-06-30T22:00"),
    ('DATEDIFF(DATE("2024-03-31"), DATE("2024-03-30"), "D")', 1),
    ('DATE_COMPUTE(DATE("2024-03-30"), 1)', "2024-03-31"),
    ('DATETIME_COMPUTE(DATE("2024-03-30T12:00"), 1, "d")', "2024-03-31T10:00:00"),
    # months keep the day within the month; units by letter or name
    ('DATETIME_COMPUTE(DATE("2021-01-31Z"), 1, "M")', "2021-02-28T00:00:00"),
    ('DATETIME_COMPUTE(DATE("2020-02-29Z"), 1, "y")', "2021-02-28T00:00:00"),
    ('DATEDIFF(DATE("2021-03-15"), DATE("2021-01-31"), "M")', 1),
    ('DATEDIFF(DATE("2021-01-01"), DATE("2021-01-31"), "M")', 0),
    ('DATEDIFF(DATE("2021-01-01T10:00"), DATE("2021-01-01T08:30"), "m")', 90),
    ('DATEDIFF(DATE("2021-01-01T10:00"), DATE("2021-01-01T08:30"), "H")', 1),
    ('DATEDIFF(DATE("2021-01-15"), DATE("2021-01-01"), "W")', 2),
    ('DATEDIFF(DATE("2021-01-15"), DATE("2021-01-01"), "days")', 14),
    # JavaScript's ways of writing a date, read as DATE reads them
    ('DATE("Dec 25 2021 10:30")', "2021-12-25T09:30"),
    ('DATE("25 December 2021 GMT")', "2021-12-25T00:00"),
    ('DATE("Saturday, December 25, 2021 10:30 PM GMT+0100")', "2021-12-25T21:30"),
    ('DATE("2024-09-23T13:27:00+02:00")', "2024-09-23T11:27"),
    (
        'DATE("Tue Apr 16 2024 15:30:00 GMT+0200 (Central European Summer Time)")',
        "2024-04-16T13:30",
    ),
    ('DATE("2024/09/23 13:27")', "2024-09-23T11:27"),
    ('DATE("1710510160", "X")', "2024-03-15T13:42"),
    ('DATE("16 Apr 2024", "DD MMM YYYY")', "2024-04-15T22:00"),
    ('DATE("04/16/24 03:30 pm", "MM/DD/YY hh:mm a")', "2024-04-16T13:30"),
    # formats: escaped text, offsets, ordinals; DATE_FORMAT takes what CURDATE and NOW give
    (
        'DATE_FORMAT(DATE("2024-04-16T10:05Z"), "[Day] Do [of] MMMM, HH:mm Z")',
        "Day 16th of April, 10:05 +00:00",
    ),
    ('DATE_FORMAT("2024-04-16", "DD/MM/YYYY")', "16/04/2024"),
    ('DATE_FORMAT(NOW(), "YYYY")', "2021"),
    ('YEAR(CURDATE("+14:00"))', 2021),
    ('DATE_MAX("2024-01-01T10:00", "2024-01-01T09:00")', "2024-01-01T10:00"),
    # zones by IANA name too
    ('NOW("Europe/Prague")', "2021-06-01T13:01"),
    ('CURTIME("GMT+3")', "14:01"),
    # years below 1000 keep four digits
    ('DATE_COMPUTE(DATE("0999-03-01Z"), 1)', "0999-03-02"),
    ('DATETIME_COMPUTE(DATE("0999-03-01Z"), 1, "s")', "0999-03-01T00:00:01"),
]


@pytest.mark.parametrize(("expression", "expected"), RULES, ids=[c[0] for c in RULES])
def test_date_rule(expression: str, expected: Any) -> None:
    with fixed_clock(PAGE_NOW):
        check(expression, None, expected)


@pytest.mark.parametrize(
    "expression",
    [
        'DATE("not a date")',
        'DATE("13/25/2021")',
        'DATE("2021-01-01", "DD/MM/YYYY")',
        'DATE("2021-01-01", "YYYY-MM-DD", "d")',
        'DATEDIFF(NOW(), NOW(), "fortnights")',
        'DATE_COMPUTE(NOW(), "abc")',
        "MONTH(1700000000000)",
        'DATE("99999-01-01T00:00")',
        'DATETIME_COMPUTE(DATE("9999-12-31Z"), 1, "y")',
        'NOW("../../etc/passwd")',
    ],
)
def test_invalid_dates_are_errors_not_crashes(expression: str) -> None:
    with fixed_clock(PAGE_NOW):
        check(expression, None, INVALID)


def test_now_follows_the_clock_it_is_given() -> None:
    with fixed_clock(dt.datetime(2030, 1, 2, 3, 4, 59, tzinfo=UTC)):
        assert evaluate_text("NOW()") == "2030-01-02T03:04"
    assert evaluate_text("NOW()") != "2030-01-02T03:04"
