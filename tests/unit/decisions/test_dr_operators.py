"""Every example of the general operators page and of the decision-table operators page.

Sources: rules_data-types-and-functions_operators_general-operators.md (the newer page, which
wins where the two disagree) and decision-tables_operators.md. Each example becomes a
one-row table whose condition cell holds the table value, solved with the request value.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import one_condition_table

from flowjobs.decisions import compile_rule

MISSING = object()


def matches(operator: str, table_value: Any, request: Any) -> bool:
    document = one_condition_table(operator, table_value)
    data = {} if request is MISSING else {"x": request}
    return bool(compile_rule(document).solve(data) == [{"hit": True}])


GENERAL: list[tuple[Any, str, Any, bool]] = [
    # (request value, operator, table value, matches)
    (3, "ANY", "", True),
    (None, "anything", "", True),
    (3, "=", "3", True),
    ("3", "=", "3", True),
    (True, "=", "true", True),
    ("true", "=", "true", True),
    (3, "!=", "3", False),
    ("3", "!=", "3", False),
    (3, "!=", "4", True),
    (True, "!=", "false", True),
    (3, "IN", "1|2|3", True),
    ("a", "IN", '"a"|"b"|"c"', True),
    ("3", "IN", "1|2|3", True),
    ("la", "IN", '"la-la"|"blah"', False),
    ("b", "IN", "a,b;c", True),
    (3, "NOT IN", "1|2|3", False),
    (4, "NOT IN", "1|2|3", True),
    ("a", "NOT IN", '"a"|"b"|"c"', False),
    ("d", "!IN", '"a"|"b"|"c"', True),
    ("3", "NOT IN", "1|2|3", False),
    (5, ">=", "3", True),
    (3.1, ">=", "2.1", True),
    ("b", ">=", "a", True),
    ("a", ">=", "a", True),
    (True, ">=", "true", True),
    (True, ">=", "false", True),
    (5, ">", "3", True),
    (5, ">", "5", False),
    (3.1, ">", "2.1", True),
    ("b", ">", "a", True),
    (True, ">", "true", False),
    (True, ">", "false", True),
    (3, "<=", "5", True),
    (3, "<=", "3", True),
    (2.1, "<=", "3.1", True),
    ("a", "<=", "a", True),
    ("a", "<=", "b", True),
    (True, "<=", "true", True),
    (False, "<=", "true", True),
    (3, "<", "5", True),
    (3, "<", "3", False),
    (2.1, "<", "3.1", True),
    ("a", "<", "b", True),
    (True, "<", "true", False),
    (False, "<", "true", True),
    (4, "BTW", "[3 AND 5]", True),
    (3, "BTW", "[3 AND 5]", True),
    (4.0, "BTW", "[3.0 AND 5.5]", True),
    (3.5, "BTW", "[3.0 AND 5.5]", True),
    ("b", "BTW", '["a" AND "c"]', True),
    ("a", "BTW", '["a" AND "c"]', True),
    (True, "BTW", "[true AND false]", False),
    (True, "BTW", "[true AND true]", True),
    (4, "BTW LO", "[3 AND 5]", True),
    (3, "BTW LO", "[3 AND 5]", False),
    (5.5, "BTW LO", "[3.0 AND 5.5]", True),
    (3.0, "BTW LO", "[3.0 AND 5.5]", False),
    ("b", "BTW LO", '["a" AND "c"]', True),
    ("a", "BTW LO", '["a" AND "c"]', False),
    (True, "BTW LO", "[false AND true]", True),
    (False, "BTW LO", "[false AND true]", False),
    (4, "BTW RO", "[3 AND 5]", True),
    (5, "BTW RO", "[3 AND 5]", False),
    (3.0, "BTW RO", "[3.0 AND 5.5]", True),
    (5.5, "BTW RO", "[3.0 AND 5.5]", False),
    ("b", "BTW RO", '["a" AND "c"]', True),
    ("c", "BTW RO", '["a" AND "c"]', False),
    (True, "BTW RO", "[false AND true]", False),
    (False, "BTW RO", "[false AND true]", True),
    (4, "!BTW", "[3 AND 5]", False),
    (2, "!BTW", "[3 AND 5]", True),
    ("b", "!BTW", '["a" AND "c"]', False),
    ("d", "!BTW", '["a" AND "c"]', True),
    (True, "!BTW", "[false AND true]", False),
    (False, "!BTW", "[false AND true]", False),
    (None, "NULL", "", True),
    ({}, "NULL", "", True),
    ([], "NULL", "", True),
    ("a", "NULL", "", False),
    (3, "NULL", "", False),
    ("", "NULL", "", False),
    (0, "NULL", "", False),
    ("a", "!NULL", "", True),
    (3, "!NULL", "", True),
    ("", "!NULL", "", True),
    (None, "!NULL", "", False),
    ({}, "!NULL", "", False),
    ([], "!NULL", "", False),
    ([1, 2, 3], "C TXT", '"1"', True),
    ([11, 2, 3], "C TXT", '"1"', True),
    ([2, 3, 4], "C TXT", '"1"', False),
    ("This is example 1,2,3 with true.", "C TXT", '"1,2,3"', True),
    ("This is example false or true.", "C TXT", '"true or false"', False),
    ("This is example true with false.", "C TXT", "true", True),
    ("This is example 1 with true.", "C IN", "1|2|3", True),
    ("This is example 1 with true.", "C IN", '1|true|"ok"', True),
    ("This is example 1 with true.", "C IN", '"is"|2|true', True),
    ("This is example 1 with true.", "C IN", "true|3", True),
    ([1, 2, 3], "C IN", "true|3", True),
    (["true or falseee", "haha"], "C IN", "true|false", True),
    ("This is example 1 with true.", "C IN", '"test"|2', False),
    ("This is example 1 with true.", "!C IN", "2|3|4", True),
    ("This is example 1 with true.", "!C IN", '2|false|"ok"', True),
    ("This is example 1 with true.", "!C IN", '"are"|2|false', True),
    ("This is example 1 with true.", "!C IN", "false|3", True),
    ([1, 2, 3], "!C IN", "true|3", False),
    (["true or falseee", "haha"], "!C IN", '"hello"|"bye"', True),
    ("This is example 1 with true.", "!C IN", '"test"|1', False),
    ([1, 2, 3], "EQ ARR", "1|2|3", True),
    (["a", "b"], "EQ ARR", '"a"|"b"', True),
    ([1, 2, 3], "EQ ARR", "1|2", True),
    ([1111, 111], "EQ ARR", "1|11|111", True),
    ([1, 2, 3, 4, 5], "EQ ARR", "1|2|3|4|6", False),
]


@pytest.mark.parametrize(("request_value", "operator", "table_value", "expected"), GENERAL)
def test_general_operators_page(
    request_value: Any, operator: str, table_value: Any, expected: bool
) -> None:
    assert matches(operator, table_value, request_value) is expected


# decision-tables_operators.md; where it contradicts the newer page ("3" = 3 is false there,
# "3" IN [1,2,3] false) the newer page's casting is kept and the example is left out here
OLDER_PAGE: list[tuple[Any, str, Any, bool]] = [
    (3, "=", "3", True),
    ("3", "=", "3", True),
    (True, "=", "true", True),
    (3, "IN", [1, 2, 3], True),
    (4, "IN", [1, 2, 3], False),
    ("a", "IN", ["a", "b", "c"], True),
    ("d", "IN", ["a", "b", "c"], False),
    (3, "NOT IN", [1, 2, 3], False),
    (4, "NOT IN", [1, 2, 3], True),
    ("a", "NOT IN", ["a", "b", "c"], False),
    ("d", "NOT IN", ["a", "b", "c"], True),
    (5, ">=", "3", True),
    (3.1, ">=", "2.1", True),
    ("b", ">=", "a", True),
    ("a", ">=", "a", True),
    (True, ">=", "true", True),
    (True, ">=", "false", True),
    (5, ">", "3", True),
    (3.1, ">", "2.1", True),
    ("b", ">", "a", True),
    (True, ">", "true", False),
    (True, ">", "false", True),
    (3, "<=", "5", True),
    (3, "<=", "3", True),
    (2.1, "<=", "3.1", True),
    ("a", "<=", "a", True),
    ("a", "<=", "b", True),
    (True, "<=", "true", True),
    (False, "<=", "true", True),
    (3, "<", "5", True),
    (2.1, "<", "3.1", True),
    ("a", "<", "b", True),
    (True, "<", "true", False),
    (False, "<", "true", True),
    (3, "<>", "3", False),
    ("3", "<>", "3", False),
    (True, "<>", "false", True),
    (42, "anything", "", True),
    ("This is example 1 with true.", "containsText", "1", True),
    ("This is example 1 with true.", "containsText", '"1"', True),
    ("This is example 1 with true.", "containsText", '"is"', True),
    ("This is example 1 with true.", "containsText", "true", True),
    ("This is example 1 with true.", "containsText", '"test"', False),
]


@pytest.mark.parametrize(("request_value", "operator", "table_value", "expected"), OLDER_PAGE)
def test_decision_table_operators_page(
    request_value: Any, operator: str, table_value: Any, expected: bool
) -> None:
    assert matches(operator, table_value, request_value) is expected


def test_an_absent_input_is_not_an_empty_one() -> None:
    # the data types page: <empty> equals "" but not a value missing from the input
    assert matches("=", "", "") is True
    assert matches("=", "", MISSING) is False


def test_numbers_given_as_text_match_numbers() -> None:
    # the data types page: 2.31 equals "2.31", true equals "true", true is not 2
    assert matches("=", "2.31", "2.31") is True
    assert matches("=", "2.31", 2.31) is True
    assert matches("=", "true", "true") is True
    assert matches("=", "true", 2) is False
    assert matches("=", "hello world", "hello world") is True


def test_table_values_may_reference_variables() -> None:
    document = one_condition_table("=", "{limit}")
    rule = compile_rule(document)
    assert rule.solve({"x": 5, "limit": "5"}) == [{"hit": True}]
    assert rule.solve({"x": 6, "limit": "5"}) == []


def test_a_function_condition_is_a_boolean_expression() -> None:
    document = one_condition_table("function", {"functionName": "LESS", "parameters": ["{x}", 10]})
    document["decisionTable"]["rows"][0]["cells"][0]["scalarCondition"]["type"] = "function"
    rule = compile_rule(document)
    assert rule.solve({"x": 3}) == [{"hit": True}]
    assert rule.solve({"x": 30}) == []
