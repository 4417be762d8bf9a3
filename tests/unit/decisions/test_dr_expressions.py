"""The expression language itself: literals, quoting, references, trees, limits."""

from __future__ import annotations

from typing import Any

import pytest

from flowjobs.decisions import ExpressionError, validate_expression
from flowjobs.decisions.ast import Call, Literal, Ref
from flowjobs.decisions.evaluator import Evaluator, evaluate_text
from flowjobs.decisions.parser import MAX_PARSE_DEPTH, parse_expression, parse_tree
from flowjobs.decisions.scope import Scope


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the functions page: literals and quoting
        ("12.1", 12.1),
        ('"abc"', "abc"),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"abcd"', "abcd"),
        ("'ab\"cd'", 'ab"cd'),
        ('"ab\\"cd"', 'ab"cd'),
        ('"ab\\\'cd"', "ab'cd"),
        ('"ab\'cd"', "ab'cd"),
        ('"ab\\\\cd"', "ab\\cd"),
        ("[1,4,5]", [1, 4, 5]),
        ('[{"id":"A5B52","price":45}]', [{"id": "A5B52", "price": 45}]),
        ('{"id":"A5B52","price":45}', {"id": "A5B52", "price": 45}),
        # unquoted text without special characters
        ("hello world", "hello world"),
        ("basic_1", "basic_1"),
    ],
)
def test_literals(expression: str, expected: Any) -> None:
    assert evaluate_text(expression) == expected


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("{a.b[1].c}", {"a": {"b": [{"c": 1}, {"c": 2}]}}, 2),
        ("{missing.path}", {}, None),
        ('"{name} is {age}"', {"name": "Ann", "age": 30}, "Ann is 30"),
        ('{"animal":{data}}', {"data": "dog"}, {"animal": "dog"}),
        ('{{data}:["dog","cat","bird"]}', {"data": "pets"}, {"pets": ["dog", "cat", "bird"]}),
        ('["dog",{data},"bird"]', {"data": "cat"}, ["dog", "cat", "bird"]),
        ('{"average": AVG(10,30)}', {}, {"average": 20}),
        ('{1+2:"three"}', {}, {"3": "three"}),
        (
            '{"animals": {data}, "number": COUNT({data})}',
            {"data": [1, 2]},
            {"animals": [1, 2], "number": 2},
        ),
    ],
)
def test_references_and_json(expression: str, data: dict[str, Any], expected: Any) -> None:
    assert evaluate_text(expression, data) == expected


def test_rule_variables_resolve_by_name_after_the_input() -> None:
    assert evaluate_text("{PromoDiscount}*2", {}, {"PromoDiscount": "30"}) == 60
    assert evaluate_text("{x}", {"x": 1}, {"x": 2}) == 1


def test_operators_group_from_the_right_like_the_exported_trees() -> None:
    node = parse_expression("{prices.crudePrice}*(100-{PromoDiscount})/100")
    tree = parse_tree(
        {
            "functionName": "TIMES_CHAR",
            "parameters": [
                "{prices.crudePrice}",
                {
                    "functionName": "DIVIDED_CHAR",
                    "parameters": [
                        {"functionName": "MINUS_CHAR", "parameters": [100, "{PromoDiscount}"]},
                        100,
                    ],
                },
            ],
        }
    )
    assert node == tree
    scope = Scope({"prices": {"crudePrice": 8}}, {"PromoDiscount": "30"})
    assert Evaluator().evaluate(tree, scope) == pytest.approx(5.6)


def test_tree_leaves_are_small_expressions() -> None:
    assert parse_tree('"plant-items-example"') == Literal("plant-items-example")
    assert parse_tree("{data}") == Ref(("data",), "data")
    assert parse_tree("460") == Literal(460)
    assert parse_tree("Monstera") == Literal("Monstera")
    assert parse_tree({"functionName": "equal", "parameters": [1, "1"]}) == Call(
        "EQUAL", (Literal(1), Literal(1))
    )


@pytest.mark.parametrize(
    "expression",
    ["SUM(1,", "(1+2", '"open', "NOSUCH(1)", "SUM()", "[1,2", "{a"],
)
def test_bad_expressions_are_reported(expression: str) -> None:
    assert validate_expression(expression) != []


def test_nesting_is_bounded() -> None:
    deep = "(" * (MAX_PARSE_DEPTH + 5) + "1" + ")" * (MAX_PARSE_DEPTH + 5)
    with pytest.raises(ExpressionError):
        parse_expression(deep)
    deep_tree: Any = 1
    for _ in range(MAX_PARSE_DEPTH + 5):
        deep_tree = {"functionName": "ABS", "parameters": [deep_tree]}
    with pytest.raises(ExpressionError):
        parse_tree(deep_tree)


def test_a_variable_that_cannot_be_used_fails_the_function() -> None:
    # the functions page: number = "a" makes SUM({number},6) fail (the table shows null)
    with pytest.raises(ExpressionError):
        evaluate_text("SUM({number},6)", {"number": "a"})


def test_a_leaf_that_is_no_expression_is_text_with_its_variables() -> None:
    leaf = parse_tree("{PromoDiscount}% discount")
    assert Evaluator().evaluate(leaf, Scope({}, {"PromoDiscount": 30})) == "30% discount"
    assert parse_tree("Hello, World") == Literal("Hello, World")
