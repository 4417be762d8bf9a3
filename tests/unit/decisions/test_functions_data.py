"""Every example of the data functions page: PICK and RAW_VALUE.

Source: rules_data-types-and-functions_operators_functions_data.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import INVALID, check

from flowjobs.decisions.functions.data import parse_path

INPUT1 = {"order": {"code": "A"}}
INPUT2 = ["A", "B", "C"]
INPUT3 = {"order": [{"code": "A2", "price": 22}, {"code": "B3", "price": 11}]}

PAGE: list[tuple[str, dict[str, Any] | None, Any]] = [
    ('PICK({input1}, "order.code")', {"input1": INPUT1}, "A"),
    ('PICK({input2}, "[2]")', {"input2": INPUT2}, "C"),
    ('PICK({input3}, "order[0].code")', {"input3": INPUT3}, "A2"),
    ('PICK({input3}, "order[1].price")', {"input3": INPUT3}, 11),
    ("RAW_VALUE(true)", None, True),
    ("RAW_VALUE(false)", None, False),
    ('RAW_VALUE("0001")', None, "0001"),
    ("RAW_VALUE(11)", None, 11),
    ("RAW_VALUE(null)", None, None),
    ("RAW_VALUE(TEXT(true))", None, "true"),
    ('RAW_VALUE({"a": 10, "b": 20})', None, {"a": 10, "b": 20}),
    ('RAW_VALUE(["a", "b", 1, 2])', None, ["a", "b", 1, 2]),
]


@pytest.mark.parametrize(("expression", "data", "expected"), PAGE, ids=[c[0] for c in PAGE])
def test_page_example(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


RULES: list[tuple[str, dict[str, Any] | None, Any]] = [
    ('PICK({o}, "a.b.c")', {"o": {"a": {"b": {"c": [1]}}}}, [1]),
    ('PICK({o}, "missing.key")', {"o": {"a": 1}}, None),
    ('PICK({o}, "list[5]")', {"o": {"list": [1]}}, None),
    ('PICK({o}, "list[-1]")', {"o": {"list": [1]}}, None),
    ('PICK({o}, "a b")', {"o": {"a b": 3}}, 3),
    ("PICK({xs}, 1)", {"xs": ["x", "y"]}, "y"),
    ("PICK({o}, \"['weird.key']\")", {"o": {"weird.key": 4}}, 4),
    ('PICK({o}, "")', {"o": {"a": 1}}, {"a": 1}),
    ('PICK("text", "a")', None, None),
]


@pytest.mark.parametrize(("expression", "data", "expected"), RULES, ids=[c[0] for c in RULES])
def test_data_rule(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


@pytest.mark.parametrize(
    "expression", ['PICK({o}, "a[")', "PICK({o}, true)", "PICK({o})", "RAW_VALUE()"]
)
def test_invalid_data_calls_are_errors(expression: str) -> None:
    check(expression, {"o": {"a": 1}}, INVALID)


def test_paths_parse_to_keys_and_indexes() -> None:
    assert parse_path("order[0].code") == ("order", 0, "code")
    assert parse_path("[2]") == (2,)
    assert parse_path("a[1][2]") == ("a", 1, 2)
