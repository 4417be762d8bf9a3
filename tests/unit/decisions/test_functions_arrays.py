"""Every example of the array functions page, and the rules behind them.

Source: rules_data-types-and-functions_operators_functions_array.md (the
deprecated ARRAY_AND, ARRAY_OR, ARRAY_SUM, ARRAY_CONCAT, ARRAY_CONCAT_WS too).
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import INVALID, check

from flowjobs.decisions.evaluator import evaluate_text
from flowjobs.decisions.functions.common import MAX_RESULT_ITEMS

ORDERS = [{"order": {"code": "A"}}, {"order": {"code": "B"}}, {"order": {"code": "C"}}]
NESTED_ORDERS = [
    {"order": [{"code": "A2", "price": 22}, {"code": "B3", "price": 11}]},
    {"order": [{"code": "A5", "price": 55}, {"code": "B8", "price": 88}]},
]
QUANTITIES = [
    {"code": "A", "quantity": "1"},
    {"code": "B", "quantity": "4"},
    {"code": "A", "quantity": "3"},
    {"code": "B", "quantity": "5"},
]
PRICES = [{"order": {"price": 20}}, {"order": {"price": 30}}, {"order": {"price": 40}}]

PAGE: list[tuple[str, dict[str, Any] | None, Any]] = [
    # ARRAY_PICK
    ('ARRAY_PICK({INPUT1}, "order.code")', {"INPUT1": ORDERS}, ["A", "B", "C"]),
    ('ARRAY_PICK({INPUT2}, "order[0].code")', {"INPUT2": NESTED_ORDERS}, ["A2", "A5"]),
    ('ARRAY_PICK({INPUT2}, "order[1].price")', {"INPUT2": NESTED_ORDERS}, [11, 88]),
    # ARRAY_MAP
    ('ARRAY_MAP({INPUT}, "x", SUM({x},1))', {"INPUT": [1, 2, 3]}, [2, 3, 4]),
    ('ARRAY_MAP({INPUT}, "z", TIMES(3,{z}))', {"INPUT": [1, 2, 3]}, [3, 6, 9]),
    (
        'ARRAY_MAP({INPUT}, "element", CONCAT_WS(" ", "number", {element}))',
        {"INPUT": [1, 2, 3]},
        ["number 1", "number 2", "number 3"],
    ),
    # ARRAY_REDUCE
    ('ARRAY_REDUCE({INPUT1}, "x", "y", SUM({x},{y}))', {"INPUT1": [1, 2, 3, 4]}, 10),
    ('ARRAY_REDUCE({INPUT1}, "a", "b", TIMES({a},{b}))', {"INPUT1": [1, 2, 3, 4]}, 24),
    (
        'ARRAY_REDUCE({INPUT1}, "word1", "word2", CONCAT_WS("_",{word1},{word2}))',
        {"INPUT1": [1, 2, 3, 4]},
        "1_2_3_4",
    ),
    ('ARRAY_REDUCE({INPUT2}, "a", "b", AND({a},{b}))', {"INPUT2": [True, True, False]}, False),
    ('ARRAY_REDUCE({INPUT2}, "a", "b", OR({a},{b}))', {"INPUT2": [True, True, False]}, True),
    # ARRAY_FILTER
    ('ARRAY_FILTER({INPUT1}, "x", LT({x},5))', {"INPUT1": [1, 8, 12, 4]}, [1, 4]),
    (
        'ARRAY_FILTER({INPUT2}, "a", EQ(PICK({a},"code"),"B"))',
        {"INPUT2": QUANTITIES},
        [{"code": "B", "quantity": "4"}, {"code": "B", "quantity": "5"}],
    ),
    # ARRAY_INCLUDES
    ("ARRAY_INCLUDES([1,5,10],6)", None, False),
    ("ARRAY_INCLUDES([1,5,10],5)", None, True),
    ('ARRAY_INCLUDES({INPUT},{"code":"A","quantity":"3"})', {"INPUT": QUANTITIES}, True),
    # ARRAY_FLATTEN
    ("ARRAY_FLATTEN({INPUT})", {"INPUT": [1, 2, [3, 4], [[5]]]}, [1, 2, 3, 4, 5]),
    ("ARRAY_FLATTEN({INPUT}, 1)", {"INPUT": [1, 2, [3, 4], [[5]]]}, [1, 2, 3, 4, [5]]),
    ('ARRAY_FLATTEN({INPUT}, "string")', {"INPUT": [1, 2, [3, 4], [[5]]]}, None),
    ("ARRAY_FLATTEN({INPUT}, -1)", {"INPUT": [1, 2, [3, 4], [[5]]]}, None),
    # ARRAY_SUM (deprecated)
    ("ARRAY_SUM({INPUT1})", {"INPUT1": [1, 2, 3]}, 6),
    ('ARRAY_SUM({INPUT2}, "order.price")', {"INPUT2": PRICES}, 90),
    ('ARRAY_SUM({INPUT3}, "order[0].price")', {"INPUT3": NESTED_ORDERS}, 77),
    ('ARRAY_SUM({INPUT3}, "order[1].price")', {"INPUT3": NESTED_ORDERS}, 99),
    # ARRAY_CONCAT (deprecated)
    ("ARRAY_CONCAT({INPUT1})", {"INPUT1": ["a", "b", "c"]}, "abc"),
    ('ARRAY_CONCAT({INPUT3}, "order[0].code")', {"INPUT3": NESTED_ORDERS}, "A2A5"),
    ('ARRAY_CONCAT({INPUT3}, "order[1].code")', {"INPUT3": NESTED_ORDERS}, "B3B8"),
    # ARRAY_CONCAT_WS (deprecated)
    ('ARRAY_CONCAT_WS("_", {INPUT1})', {"INPUT1": ["a", "b", "c"]}, "a_b_c"),
    ('ARRAY_CONCAT_WS("_", {INPUT2}, "order.code")', {"INPUT2": ORDERS}, "A_B_C"),
    ('ARRAY_CONCAT_WS("_", {INPUT3}, "order[0].code")', {"INPUT3": NESTED_ORDERS}, "A2_A5"),
    ('ARRAY_CONCAT_WS(" ", {INPUT3}, "order[1].code")', {"INPUT3": NESTED_ORDERS}, "B3 B8"),
    # ARRAY_AND (deprecated)
    ("ARRAY_AND({INPUT1})", {"INPUT1": [True, True, False]}, False),
    (
        'ARRAY_AND({INPUT2}, "order.sent")',
        {"INPUT2": [{"order": {"sent": True}}] * 3},
        True,
    ),
    # ARRAY_OR (deprecated)
    ("ARRAY_OR({INPUT1})", {"INPUT1": [True, False, False]}, True),
    (
        'ARRAY_OR({INPUT2}, "order.sent")',
        {"INPUT2": [{"order": {"sent": False}}] * 3},
        False,
    ),
]


@pytest.mark.parametrize(("expression", "data", "expected"), PAGE, ids=[c[0] for c in PAGE])
def test_page_example(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


RULES: list[tuple[str, dict[str, Any] | None, Any]] = [
    # custom functions see the rest of the input, and nested ones their own names
    ('ARRAY_MAP({xs}, "x", TIMES({x},{factor}))', {"xs": [1, 2], "factor": 10}, [10, 20]),
    (
        'ARRAY_MAP({rows}, "r", ARRAY_MAP({r}, "c", SUM({c},{r[0]})))',
        {"rows": [[1, 2], [10, 20]]},
        [[2, 3], [20, 30]],
    ),
    ('ARRAY_MAP({xs}, "x", {"value": {x}})', {"xs": [1, 2]}, [{"value": 1}, {"value": 2}]),
    ('ARRAY_FILTER({xs}, "x", "false")', {"xs": [1, 2]}, []),
    ('ARRAY_REDUCE({xs}, "a", "b", SUM({a},{b}))', {"xs": []}, None),
    ('ARRAY_REDUCE({xs}, "a", "b", SUM({a},{b}))', {"xs": [7]}, 7),
    # ARRAY_INCLUDES does not cast: "5" is not 5, true is not 1; arrays compare deeply
    ('ARRAY_INCLUDES([1,5,10],"5")', None, False),
    ("ARRAY_INCLUDES([1,5,10],5.0)", None, True),
    ("ARRAY_INCLUDES([1,0],true)", None, False),
    ("ARRAY_INCLUDES([[1,2],[3]],[3])", None, True),
    ("ARRAY_INCLUDES({xs},null)", {"xs": [1, None]}, True),
    # flattening: a depth of 2, numbers given as text, anything but an array is null
    ("ARRAY_FLATTEN([1,[2,[3,[4]]]], 2)", None, [1, 2, 3, [4]]),
    ('ARRAY_FLATTEN([1,[2,[3]]], "1")', None, [1, 2, [3]]),
    ("ARRAY_FLATTEN([1,[2]], 0)", None, None),
    ("ARRAY_FLATTEN([1,[2]], 1.5)", None, None),
    ('ARRAY_FLATTEN("abc")', None, None),
    # paths that find nothing pick null
    ('ARRAY_PICK({xs}, "a.b")', {"xs": [{"a": {"b": 1}}, {"a": 2}, {}]}, [1, None, None]),
    # the deprecated ones cast as the functions that replace them
    ("ARRAY_SUM({xs})", {"xs": ["1.5", 2]}, 3.5),
    ("ARRAY_AND({xs})", {"xs": []}, True),
    ("ARRAY_OR({xs})", {"xs": ["false", "true"]}, True),
    ("ARRAY_CONCAT({xs})", {"xs": [1, True, None, "x"]}, "1truex"),
]


@pytest.mark.parametrize(("expression", "data", "expected"), RULES, ids=[c[0] for c in RULES])
def test_array_rule(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


@pytest.mark.parametrize(
    "expression",
    [
        'ARRAY_PICK("abc", "a")',
        'ARRAY_MAP({notarray}, "x", {x})',
        "ARRAY_MAP({xs}, 1, {x})",
        'ARRAY_MAP({xs}, "x")',
        'ARRAY_REDUCE({xs}, "a", SUM({a},1))',
        'ARRAY_FILTER({xs}, "x", {x}, 1)',
        "ARRAY_INCLUDES(1, 1)",
        "ARRAY_SUM({words})",
        'ARRAY_PICK({xs}, "a[")',
        'ARRAY_CONCAT_WS("_")',
    ],
)
def test_invalid_array_calls_are_errors(expression: str) -> None:
    check(expression, {"notarray": 5, "xs": [1, 2], "words": ["a"]}, INVALID)


def test_results_are_bounded() -> None:
    data = {"xs": [[0] * 1000] * (MAX_RESULT_ITEMS // 1000 + 1)}
    check("ARRAY_FLATTEN({xs})", data, INVALID)
    check('ARRAY_MAP({big}, "x", {x})', {"big": [0] * (MAX_RESULT_ITEMS + 1)}, INVALID)


def test_flatten_survives_deep_nesting() -> None:
    nested: list[Any] = [1]
    for _ in range(5000):
        nested = [nested]
    assert evaluate_text("ARRAY_FLATTEN({n})", {"n": nested}) == [1]
