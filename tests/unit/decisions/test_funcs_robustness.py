"""Any arguments give the date, array and data functions and the date operators a value or
an ExpressionError (DecisionRules' "invalid", a 4xx or an empty cell), never a crash."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowjobs.decisions.date_operators import DATE_OPERATORS, prepare
from flowjobs.decisions.functions import FUNCTIONS
from flowjobs.decisions.problems import ExpressionError

EAGER = [
    *("NOW", "CURDATE", "CURTIME", "DATE", "DATE_MAX", "DATE_MIN", "DATEDIFF", "DATE_COMPUTE"),
    *("DATETIME_COMPUTE", "DATE_FORMAT", "DAY", "MONTH", "YEAR", "WEEKDAY", "ARRAY_PICK"),
    *("ARRAY_INCLUDES", "ARRAY_FLATTEN", "ARRAY_SUM", "ARRAY_CONCAT", "ARRAY_CONCAT_WS"),
    *("ARRAY_AND", "ARRAY_OR", "PICK", "RAW_VALUE"),
]

# Text that date and path code finds hard: the ends of the calendar, odd zones, tokens.
TRICKY_TEXT = [
    "",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2021-12-33T22:00",
    "02/30/2022",
    "1710510160000",
    "-99999999999999999999",
    "Dec 99 2021",
    "GMT+99",
    "+14:00",
    "-12:00",
    "Europe/Prague",
    "../../etc/passwd",
    "DD/MM/YYYY HH:mm Z",
    "Do MMMM YYYY",
    "x",
    "X",
    "M",
    "order[0].code",
    "a[",
    "[-1]",
    "0001-01-01 +02:00",
    "9999-12-31 23:59 -02:00",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY_TEXT),
    st.text(max_size=12),
    st.datetimes(timezones=st.just(dt.UTC)),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("name", EAGER)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(arguments=st.lists(values, max_size=4))
def test_functions_never_crash(name: str, arguments: list[Any]) -> None:
    spec = FUNCTIONS[name]
    if spec.check_count(len(arguments)) is not None:
        return  # refused at validation, never called
    with contextlib.suppress(ExpressionError):
        spec.impl(*arguments)


@pytest.mark.parametrize("spec", DATE_OPERATORS, ids=lambda spec: spec.name)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(request=values, table=values, other=values)
def test_date_operators_never_crash(spec: Any, request: Any, table: Any, other: Any) -> None:
    raw = (table, other) if spec.operand == "range" else table
    try:
        operand = prepare(raw)
    except ExpressionError:
        operand = raw  # refused at validation; the test still copes with the raw value
    assert spec.test(request, operand) in (True, False)
