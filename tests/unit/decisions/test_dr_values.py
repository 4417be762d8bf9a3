"""DecisionRules' typing: casting, equality, order, and how values are written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flowjobs.decisions.cellvalues import cast_text, split_members, split_range
from flowjobs.decisions.values import (
    compare,
    dr_equals,
    eq_key,
    is_null,
    json_value,
    to_bool,
    to_number,
    to_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("3", 3),
        ("2.31", 2.31),
        (" 4 ", 4),
        (True, 1),
        ("abc", None),
        ("", None),
        (None, None),
        ([1], None),
    ],
)
def test_to_number(value: Any, expected: Any) -> None:
    assert to_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (8.0, "8"),
        (2.5, "2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
        (
            dt.datetime(2024, 9, 23, 13, 27, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-09-23T11:27:00.000Z",
        ),
    ],
)
def test_to_text_writes_as_javascript_does(value: Any, expected: str) -> None:
    assert to_text(value) == expected


def test_to_bool() -> None:
    assert [to_bool(v) for v in ("true", "false", "x", "", 0, 2, [], None)] == [
        True,
        False,
        True,
        False,
        False,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (3, "3", True),
        ("3", "3", True),
        (True, "true", True),
        (True, 1, False),
        ("a", "a", True),
        (None, None, True),
        (None, "", False),
        ([1, "3"], [1, 3], True),
        ({"price": 10}, {"price": 11}, False),
    ],
)
def test_equality_and_its_hash_key_agree(left: Any, right: Any, equal: bool) -> None:
    assert dr_equals(left, right) is equal
    if equal and eq_key(left) is not None:
        assert eq_key(left) == eq_key(right)


def test_order() -> None:
    assert compare(5, "3") == 1
    assert compare("10", "9") == 1  # numeric text compares as numbers
    assert compare("b", "a") == 1
    assert compare(True, False) == 1
    assert compare("a", 1) is None


def test_null_is_null_object_or_array() -> None:
    assert [is_null(v) for v in (None, {}, [], "", 0)] == [True, True, True, False, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25", 25),
        ("25.0", 25),
        ("25.01", 25.01),
        ("true", True),
        ('"true"', '"true"'),
        ("", ""),
        ("hello world", "hello world"),
        ("{}", {}),
        ('{"data":123 }', {"data": 123}),
        ('[12,36,"542"]', [12, 36, "542"]),
        ('[12,36,"542"', '[12,36,"542"'),
        ('[12, 36, "542", [1,2] ]', [12, 36, "542", [1, 2]]),
    ],
)
def test_result_cells_cast_as_the_data_types_page_shows(text: str, expected: Any) -> None:
    assert json_value(cast_text(text)) == expected


def test_set_and_range_cells() -> None:
    assert split_members('"a"|"b,c";d , e') == ['"a"', '"b,c"', "d", "e"]
    assert split_members(["x", 1]) == ["x", 1]
    assert split_members("[1,2]") == [1, 2]
    assert split_range("[3 AND 5]") == ("3", "5")
    assert split_range({"from": 1, "to": 2}) == (1, 2)
    assert split_range("5") is None
