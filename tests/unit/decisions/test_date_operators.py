"""Every example of the date operators page, through the operators and through a table.

Source: rules_data-types-and-functions_operators_date-operators.md (and the
date rows of rules_data-types-and-functions_data-types.md). A cell without a
date means today: the page's examples "assuming 2024-09-24 is in the future"
run on 1 September 2024, "in the past" on 15 October 2024, and the rest on the
day the page was written, 24 September 2024.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from flowjobs.decisions import compile_rule, validate_rule
from flowjobs.decisions.clock import fixed_clock
from flowjobs.decisions.date_operators import FixedDate, TodayAt, parse_date_value
from flowjobs.decisions.operators import find_operator

PLUS2 = dt.timezone(dt.timedelta(hours=2))
TODAY = dt.datetime(2024, 9, 24, 12, 0, tzinfo=PLUS2)  # the page's own day
FUTURE = dt.datetime(2024, 9, 1, 12, 0, tzinfo=PLUS2)  # 2024-09-24 is in the future
PAST = dt.datetime(2024, 10, 15, 12, 0, tzinfo=PLUS2)  # 2024-09-24 is in the past

A = "2024-09-24 09:27 +02:00"  # the request value of most examples
Table = str | tuple[str, str]

PAGE: list[tuple[Any, str, Table, bool, dt.datetime]] = [
    # =
    (A, "=", "2024-09-24 09:27 +02:00", True, TODAY),
    ("2024-09-24 +02:00", "=", "+02:00", True, TODAY),
    (A, "=", "2024-09-24 +02:00", False, TODAY),
    (A, "=", "2024-09-24 13:27 +02:00", False, TODAY),
    # !=
    (A, "!=", "2024-09-24 +02:00", True, TODAY),
    (A, "!=", "09:27 +02:00", True, PAST),  # true on any other day than the 24th
    (A, "!=", "+02:00", True, TODAY),
    (A, "!=", "2024-09-24 09:27 +02:00", False, TODAY),
    ("2024-09-24 +02:00", "!=", "+02:00", False, TODAY),
    # >
    (A, ">", "2024-09-23 09:27 +02:00", True, TODAY),
    (A, ">", "2024-09-24 +02:00", True, TODAY),
    (A, ">", "09:27 +02:00", True, FUTURE),
    (A, ">", "+02:00", True, FUTURE),
    (A, ">", "09:27 +02:00", False, PAST),
    (A, ">", "+02:00", False, PAST),
    (A, ">", "2024-09-24 09:27 +02:00", False, TODAY),
    (A, ">", "2024-09-25 09:27 +02:00", False, TODAY),
    # <
    (A, "<", "2024-09-25 09:27 +02:00", True, TODAY),
    (A, "<", "2024-09-25 +02:00", True, TODAY),
    (A, "<", "09:27 +02:00", True, PAST),
    (A, "<", "+02:00", True, PAST),
    (A, "<", "09:27 +02:00", False, FUTURE),
    (A, "<", "09:27 +02:00", False, TODAY),
    (A, "<", "+02:00", False, FUTURE),
    (A, "<", "+02:00", False, TODAY),
    (A, "<", "2024-09-24 09:27 +02:00", False, TODAY),
    (A, "<", "2024-09-23 09:27 +02:00", False, TODAY),
    # >=
    (A, ">=", "2024-09-24 09:27 +02:00", True, TODAY),
    (A, ">=", "2024-09-23 09:27 +02:00", True, TODAY),
    (A, ">=", "2024-09-24 +02:00", True, TODAY),
    (A, ">=", "09:27 +02:00", True, FUTURE),
    (A, ">=", "09:27 +02:00", True, TODAY),
    (A, ">=", "+02:00", True, FUTURE),
    (A, ">=", "+02:00", True, TODAY),
    (A, ">=", "09:27 +02:00", False, PAST),
    (A, ">=", "+02:00", False, PAST),
    (A, ">=", "2024-09-25 09:27 +02:00", False, TODAY),
    # <=
    (A, "<=", "2024-09-24 09:27 +02:00", True, TODAY),
    (A, "<=", "2024-09-25 09:27 +02:00", True, TODAY),
    (A, "<=", "2024-09-25 +02:00", True, TODAY),
    (A, "<=", "09:27 +02:00", True, PAST),
    (A, "<=", "+02:00", True, PAST),
    (A, "<=", "09:27 +02:00", False, FUTURE),
    (A, "<=", "+02:00", False, FUTURE),
    (A, "<=", "2024-09-23 09:27 +02:00", False, TODAY),
    # BTW
    (A, "BTW", ("2024-09-24 09:27 +02:00", "2024-09-25 09:27 +02:00"), True, TODAY),
    (A, "BTW", ("2024-09-23 09:27 +02:00", "2024-09-24 09:27 +02:00"), True, TODAY),
    (A, "BTW", ("2024-09-24 +02:00", "2024-09-27 +02:00"), True, TODAY),
    (A, "BTW", ("2024-09-23 +02:00", "2024-09-24 09:27 +02:00"), True, TODAY),
    (
        "2024-09-24 +02:00",
        "BTW",
        ("2024-09-23 09:27 +02:00", "2024-09-25 09:27 +02:00"),
        True,
        TODAY,
    ),
    (A, "BTW", ("2024-09-28 09:27 +02:00", "2024-09-29 09:27 +02:00"), False, TODAY),
    (
        "2024-09-24 +02:00",
        "BTW",
        ("2024-09-24 09:27 +02:00", "2024-09-25 09:27 +02:00"),
        False,
        TODAY,
    ),
    (A, "BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), False, FUTURE),
    (A, "BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), True, TODAY),
    (A, "BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), True, PAST),
    # !BTW
    (A, "!BTW", ("2024-09-28 09:27 +02:00", "2024-09-29 09:27 +02:00"), True, TODAY),
    (
        "2024-09-24 +02:00",
        "!BTW",
        ("2024-09-24 09:27 +02:00", "2024-09-25 09:27 +02:00"),
        True,
        TODAY,
    ),
    (A, "!BTW", ("2024-09-24 09:27 +02:00", "2024-09-25 09:27 +02:00"), False, TODAY),
    (A, "!BTW", ("2024-09-23 09:27 +02:00", "2024-09-25 09:27 +02:00"), False, TODAY),
    (A, "!BTW", ("2024-09-24 +02:00", "2024-09-27 +02:00"), False, TODAY),
    (A, "!BTW", ("2024-09-23 +02:00", "2024-09-24 09:27 +02:00"), False, TODAY),
    (
        "2024-09-24 +02:00",
        "!BTW",
        ("2024-09-23 09:27 +02:00", "2024-09-25 09:27 +02:00"),
        False,
        TODAY,
    ),
    (A, "!BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), True, FUTURE),
    (A, "!BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), False, PAST),
    (A, "!BTW", ("2024-09-23 09:27 +02:00", "10:27 +02:00"), False, TODAY),
    # "Date Format": extended ISO 8601 and the deprecated object match the same cell
    ("2024-09-24T09:27:00+02:00", "=", "2024-09-24 09:27 +02:00", True, TODAY),
    (
        {"date": "2024-09-24", "time": "09:27", "timezone": "+02:00"},
        "=",
        "2024-09-24 09:27 +02:00",
        True,
        TODAY,
    ),
    # the data types page's date rows (its row saying "2021-03-17T13:17-09:00" equals
    # "2024-09-23 13:27 +02:00" contradicts every other example and is left out)
    ("2024-09-23 13:27 +02:00", "=", "2024-09-23 13:27 +02:00", True, TODAY),
    ("2024-09-23T13:27:00+02:00", "=", "2024-09-23 13:27 +02:00", True, TODAY),
    (
        {"date": "2024-09-23", "time": "13:27", "timezone": "+02:00"},
        "=",
        "2024-09-23 13:27 +02:00",
        True,
        TODAY,
    ),
    (
        {"date": "2024-09-23", "time": "13:27", "timezone": "+02:00"},
        "=",
        "2021-03-17T13:17-09:00",
        False,
        TODAY,
    ),
]


def matches(request: Any, operator: str, table: Table, now: dt.datetime) -> bool:
    """The date operator of a cell with ``table`` tested on ``request`` at ``now``."""
    spec = find_operator(operator, "date")
    assert spec is not None and spec.cell_type == "date" and spec.prepare is not None
    operand = spec.prepare(table) if isinstance(table, str) else tuple(map(spec.prepare, table))
    with fixed_clock(now):
        return spec.test(request, operand)


def _id(case: tuple[Any, str, Table, bool, dt.datetime]) -> str:
    request, operator, table, _, now = case
    shown = " AND ".join(table) if isinstance(table, tuple) else table
    return f"{request} {operator} {shown} @{now.date()}"


@pytest.mark.parametrize(
    ("request_value", "operator", "table", "expected", "now"), PAGE, ids=map(_id, PAGE)
)
def test_page_example(
    request_value: Any, operator: str, table: Table, expected: bool, now: dt.datetime
) -> None:
    assert matches(request_value, operator, table, now) is expected


# --- reading date cells -------------------------------------------------------------------------


def test_cells_without_a_date_are_today() -> None:
    assert parse_date_value("2024-09-24 09:27:30 +02:00") == FixedDate(
        dt.datetime(2024, 9, 24, 9, 27, 30, tzinfo=PLUS2)
    )
    assert parse_date_value("2024-09-24") == FixedDate(dt.datetime(2024, 9, 24, tzinfo=dt.UTC))
    assert parse_date_value("09:27 +02:00") == TodayAt(dt.time(9, 27), PLUS2)
    assert parse_date_value("+02:00") == TodayAt(dt.time(0, 0), PLUS2)
    late = dt.datetime(2024, 9, 24, 23, 30, tzinfo=dt.UTC)  # already the 25th at +02:00
    assert TodayAt(dt.time(9, 27), PLUS2).at(late) == dt.datetime(2024, 9, 25, 9, 27, tzinfo=PLUS2)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2024-09-24 09:27 GMT+2", "2024-09-24T07:27:00+00:00"),
        ("2024/09/24 09:27 +0200", "2024-09-24T07:27:00+00:00"),
        ("2024-09-24T09:27:00.000Z", "2024-09-24T09:27:00+00:00"),
        ("09/24/2024 09:27", "2024-09-24T09:27:00+00:00"),  # no zone: GMT, the picker's default
        ("Sep 24 2024 09:27 GMT+0200", "2024-09-24T07:27:00+00:00"),
    ],
)
def test_other_ways_of_writing_a_date(text: str, instant: str) -> None:
    value = parse_date_value(text)
    assert value is not None
    assert value.at(TODAY).astimezone(dt.UTC).isoformat() == instant


@pytest.mark.parametrize("value", ["", "soon", "2024-13-45", "25:00 +02:00", None, 42, [1], {}])
def test_what_is_not_a_date(value: Any) -> None:
    assert parse_date_value(value) is None


@pytest.mark.parametrize(
    ("request_value", "operator", "expected"),
    [("garbage", "=", False), ("garbage", "!=", True), (None, ">", False), ("", "BTW", False)],
)
def test_a_request_that_is_no_date_matches_only_not_equal(
    request_value: Any, operator: str, expected: bool
) -> None:
    table: Table = ("2024-09-23 +02:00", "2024-09-25 +02:00") if operator == "BTW" else A
    assert matches(request_value, operator, table, TODAY) is expected


def test_dates_from_date_values_compare_as_instants() -> None:
    moment = dt.datetime(2024, 9, 24, 7, 27, tzinfo=dt.UTC)
    assert parse_date_value(moment) == FixedDate(moment)
    assert matches(moment, "=", A, TODAY)
    assert matches("2024-09-24T07:27", "=", A, TODAY)  # DATE's output: UTC without a zone


def test_open_ranges() -> None:
    bounds = ("2024-09-24 09:27 +02:00", "2024-09-25 +02:00")
    assert not matches(A, "BTW LO", bounds, TODAY)
    assert matches(A, "BTW RO", bounds, TODAY)


# --- in a decision table --------------------------------------------------------------------------


def _date_cell(operator: str, value: Any) -> dict[str, Any]:
    return {
        "column": "when",
        "type": "input",
        "scalarCondition": {"operator": operator, "value": value, "type": "date"},
    }


def _row(operator: str, value: Any, label: str) -> dict[str, Any]:
    output = {"column": "label", "type": "output"}
    output["outputScalarValue"] = {"type": "common", "value": label}
    return {"active": True, "cells": [_date_cell(operator, value), output]}


TABLE: dict[str, Any] = {
    "name": "Seasons",
    "type": "decision-table",
    "inputSchema": {"when": {}, "limit": {}},
    "outputSchema": {"label": {}},
    "decisionTable": {
        "columns": [
            {
                "columnId": "when",
                "type": "input",
                "condition": {"type": "simple", "inputVariable": "when", "name": "When"},
            },
            {
                "columnId": "label",
                "type": "output",
                "columnOutput": {"type": "simple", "outputVariable": "label", "name": "Label"},
            },
        ],
        "rows": [
            _row("BTW", "2024-09-23 +02:00 AND 2024-09-25 +02:00", "around the 24th"),
            _row("=", "+02:00", "midnight today"),
            _row(">", "{limit}", "after the limit"),
        ],
    },
}


@pytest.mark.parametrize(
    ("data", "labels"),
    [
        ({"when": "2024-09-24T09:27:00+02:00"}, ["around the 24th"]),
        (
            {"when": {"date": "2024-09-24", "time": "09:27", "timezone": "+02:00"}},
            ["around the 24th"],
        ),
        ({"when": "2024-09-30 +02:00"}, []),
        ({"when": "2024-10-15 +02:00"}, ["midnight today"]),
        (
            {"when": "2024-10-15 +02:00", "limit": "2024-10-14 23:00 +02:00"},
            ["midnight today", "after the limit"],
        ),
        ({"when": "not a date", "limit": "2024-10-14 +02:00"}, []),
    ],
)
def test_a_table_with_a_date_column(data: dict[str, Any], labels: list[str]) -> None:
    rule = compile_rule(TABLE)
    with fixed_clock(PAST):
        result = rule.solve(data)
    assert [row["label"] for row in result] == labels


def test_a_cell_that_is_no_date_is_a_problem_at_validation() -> None:
    table = copy.deepcopy(TABLE)
    table["decisionTable"]["rows"] += [
        _row("<", "next tuesday", "never"),
        _row("BTW", "2024-01-01 AND soon", "never"),
    ]
    problems = validate_rule(table)
    assert [(p.row, p.column) for p in problems] == [(4, "When"), (5, "When")]
    assert "invalid date 'next tuesday'" in str(problems[0])
    assert "invalid date 'soon'" in str(problems[1])
