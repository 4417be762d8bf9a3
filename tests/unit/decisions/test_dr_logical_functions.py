"""Every example of the logical functions page.

Source: rules_data-types-and-functions_operators_functions_logical.md
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import INVALID, check

NULLS = {"input1": {}, "input2": None, "input3": "null", "input4": "abc", "input5": 3}

CASES: list[tuple[str, dict[str, Any] | None, Any]] = [
    ("EQ(10,10)", None, True),
    ("EQ(10,15)", None, False),
    ('EQ(10,"10")', None, True),
    ('EQ(10,"aa")', None, False),
    ("EQ({input1},3)", {"input1": 3}, True),
    ('EQ("a","a")', None, True),
    ("EQ([1,3],{input2})", {"input2": [1, 3]}, True),
    ('EQ({"price":10},{"price":11})', None, False),
    ("EQ(10)", None, INVALID),
    ("NE(10,20)", None, True),
    ("NE({input},3)", {"input": 2}, True),
    ("NE(20,10)", None, True),
    ('NE("a","b")', None, True),
    ("NE(20,20)", None, False),
    ('NE("a")', None, INVALID),
    ("GT(20,10)", None, True),
    ("GT(20,20)", None, False),
    ("GT({input},3)", {"input": 4}, True),
    ('GT("a","a")', None, False),
    ('GT("b","a")', None, True),
    ("GT(15)", None, INVALID),
    ("GTE(20,10)", None, True),
    ("GTE(20,20)", None, True),
    ("GTE({input},3)", {"input": 4}, True),
    ('GTE("a","a")', None, True),
    ('GTE("b","a")', None, True),
    ("GTE(15)", None, INVALID),
    ("LT(10,20)", None, True),
    ("LT(10,10)", None, False),
    ("LT(3,{input})", {"input": 4}, True),
    ('LT("a","a")', None, False),
    ('LT("a","b")', None, True),
    ("LT(15)", None, INVALID),
    ("LTE(10,20)", None, True),
    ("LTE(20,20)", None, True),
    ("LTE(3,{input})", {"input": 4}, True),
    ('LTE("a","a")', None, True),
    ('LTE("a","b")', None, True),
    ("LTE(15)", None, INVALID),
    ("BTW(10,15,20)", None, True),
    ("BTW(10,10,20)", None, True),
    ("BTW(10,{input},20)", {"input": 12}, True),
    ('BTW("a","f","z")', None, True),
    ("BTW(10,8,20)", None, False),
    ("BTW(20,10,15)", None, False),
    ("BTW(20,10)", None, INVALID),
    ("NOT_BTW(10,8,20)", None, True),
    ("NOT_BTW(10,15,20)", None, False),
    ("BTW_LEFT_OPEN(10,10,20)", None, False),
    ("BTW_LEFT_OPEN(10,20,20)", None, True),
    ("BTW_RIGHT_OPEN(10,10,20)", None, True),
    ("BTW_RIGHT_OPEN(10,20,20)", None, False),
    ("AND(true,EQ(10,10))", None, True),
    ("AND(LT(10,10),GTE(10,10))", None, False),
    ("AND(true,EQ(10,20))", None, False),
    ("AND(true, {input}, false)", {"input": True}, False),
    ("AND([true,true,true])", None, True),
    ("AND(1,true)", None, True),
    ('AND("a","b")', None, INVALID),
    ("OR(false,EQ(10,10))", None, True),
    ("OR(LT(10,10),GTE(10,10))", None, True),
    ("OR(false,EQ(10,20))", None, False),
    ("OR(false, false, {input})", {"input": True}, True),
    ("OR([true,false,false])", None, True),
    ("OR(1,true)", None, True),
    ('OR("a","b")', None, INVALID),
    ("IS_NULL({input1})", NULLS, True),
    ("IS_NULL({input2})", NULLS, True),
    ("IS_NULL({input3})", NULLS, True),
    ("IS_NULL({input4})", NULLS, False),
    ("IS_NULL({input5})", NULLS, False),
    ('IS_NULL("abc")', None, False),
    ("IS_NULL(3)", None, False),
    ("IS_NOT_NULL({input1})", NULLS, False),
    ("IS_NOT_NULL({input2})", NULLS, False),
    ("IS_NOT_NULL({input3})", NULLS, False),
    ("IS_NOT_NULL({input4})", NULLS, True),
    ("IS_NOT_NULL({input5})", NULLS, True),
    ('IS_NOT_NULL("abc")', None, True),
    ("IS_NOT_NULL(3)", None, True),
    ('NVL(null, "default value")', None, "default value"),
    ('NVL("null", "default value")', None, "default value"),
    ('NVL({}, "default value")', None, "default value"),
    ('NVL([], "default value")', None, "default value"),
    ('NVL("not null", "default value")', None, "not null"),
    ('NVL("not null", "default value" ,"not null default value")', None, "not null default value"),
    (
        '{"animal":NVL(null, "default value"),"legs":4}',
        None,
        {"animal": "default value", "legs": 4},
    ),
    ("NOT(true)", None, False),
    ("NOT({input})", {"input": False}, True),
    ("NOT(LT(1,4))", None, False),
    ("NOT(EQ(256,256))", None, False),
    ('IF(true,"Input truthy","Input falsy")', None, "Input truthy"),
    ('IF({input},"Input truthy","Input falsy")', {"input": False}, "Input falsy"),
    ('IF(LT(0,{number}),"Positive","Negative")', {"number": 8}, "Positive"),
    ('REGEXP("abc","bc")', None, True),
    ("REGEXP(12233,23)", None, True),
    ('REGEXP({input},"lo")', {"input": "hello"}, True),
    ('REGEXP("xxx","yy")', None, False),
    ('REGEXP("hello","ho")', None, False),
    ('REGEXP("bye")', None, INVALID),
]


@pytest.mark.parametrize(("expression", "data", "expected"), CASES)
def test_logical_page_example(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


def test_and_or_stop_at_the_first_deciding_argument() -> None:
    # the second argument would fail ("a" is no boolean) if it were evaluated
    check('AND(false, NOT("a"))', None, False)
    check('OR(true, NOT("a"))', None, True)


def test_if_evaluates_only_the_chosen_branch() -> None:
    check('IF(true, 1, SUM("a"))', None, 1)
