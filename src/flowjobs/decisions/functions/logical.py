"""The logical function family (EQ, GT, BTW, AND, IF, NVL, ...), with the exported tree names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowjobs.decisions.functions.common import FunctionError, shown
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.regexes import compile_pattern
from flowjobs.decisions.values import bool_of_text, compare, dr_equals, is_null, to_number, to_text

if TYPE_CHECKING:
    from flowjobs.decisions.ast import Node
    from flowjobs.decisions.evaluator import Evaluator
    from flowjobs.decisions.scope import Scope


def _order(left: Any, right: Any, function: str) -> int:
    result = compare(left, right)
    if result is None:
        raise FunctionError(f"{function}: {shown(left)} and {shown(right)} do not compare")
    return result


def _register_aliases(names: tuple[str, ...], count: int, impl: Any) -> None:
    for name in names:
        register(name, count)(impl)


def eq(left: Any, right: Any) -> bool:
    return dr_equals(left, right)


def ne(left: Any, right: Any) -> bool:
    return not dr_equals(left, right)


def gt(left: Any, right: Any) -> bool:
    return _order(left, right, "GT") > 0


def gte(left: Any, right: Any) -> bool:
    return _order(left, right, "GTE") >= 0


def lt(left: Any, right: Any) -> bool:
    return _order(left, right, "LT") < 0


def lte(left: Any, right: Any) -> bool:
    return _order(left, right, "LTE") <= 0


# the cell names, and the names DecisionRules' exported trees use for them
_register_aliases(("EQ", "EQUAL"), 2, eq)
_register_aliases(("NE", "NOT_EQUAL"), 2, ne)
_register_aliases(("GT", "GREATER"), 2, gt)
_register_aliases(("GTE", "GREATER_EQUAL"), 2, gte)
_register_aliases(("LT", "LESS"), 2, lt)
_register_aliases(("LTE", "LESS_EQUAL"), 2, lte)


def between(low: Any, value: Any, high: Any, *, open_low: bool, open_high: bool) -> bool:
    """``low <= value <= high``, either end open; False when the values do not compare."""
    above, below = compare(value, low), compare(value, high)
    if above is None or below is None:
        return False
    return (above > 0 or (above == 0 and not open_low)) and (
        below < 0 or (below == 0 and not open_high)
    )


@register("BTW", 3)
def btw(low: Any, value: Any, high: Any) -> bool:
    return between(low, value, high, open_low=False, open_high=False)


@register("NOT_BTW", 3)
def not_btw(low: Any, value: Any, high: Any) -> bool:
    above, below = compare(value, low), compare(value, high)
    return above is not None and below is not None and (above < 0 or below > 0)


@register("BTW_LEFT_OPEN", 3)
def btw_left_open(low: Any, value: Any, high: Any) -> bool:
    return between(low, value, high, open_low=True, open_high=False)


@register("BTW_RIGHT_OPEN", 3)
def btw_right_open(low: Any, value: Any, high: Any) -> bool:
    return between(low, value, high, open_low=False, open_high=True)


def truth(value: Any, function: str) -> bool:
    """A boolean argument of AND/OR/NOT/IF: booleans, "true"/"false", numbers (0 is false)."""
    as_bool = bool_of_text(value)
    if as_bool is not None:
        return as_bool
    number = to_number(value)
    if number is None:
        raise FunctionError(f"{function}: {shown(value)} is not a boolean")
    return number != 0


def _truths(evaluator: Evaluator, scope: Scope, nodes: tuple[Node, ...], function: str) -> Any:
    for node in nodes:
        value = evaluator.evaluate(node, scope)
        for item in value if isinstance(value, list) else [value]:
            yield truth(item, function)


@register("AND", 1, None, lazy=True)
def and_(evaluator: Evaluator, scope: Scope, *nodes: Node) -> bool:
    return all(_truths(evaluator, scope, nodes, "AND"))


@register("OR", 1, None, lazy=True)
def or_(evaluator: Evaluator, scope: Scope, *nodes: Node) -> bool:
    return any(_truths(evaluator, scope, nodes, "OR"))


@register("NOT", 1)
def not_(value: Any) -> bool:
    return not truth(value, "NOT")


def dr_is_null(value: Any) -> bool:
    """IS_NULL's "empty": null, {}, [], and the text "null"."""
    return is_null(value) or value == "null"


@register("IS_NULL", 1)
def is_null_(value: Any) -> bool:
    return dr_is_null(value)


@register("IS_NOT_NULL", 1)
def is_not_null(value: Any) -> bool:
    return not dr_is_null(value)


@register("NVL", 2, 3, lazy=True)
def nvl(evaluator: Evaluator, scope: Scope, value: Node, default: Node, *otherwise: Node) -> Any:
    current = evaluator.evaluate(value, scope)
    if dr_is_null(current):
        return evaluator.evaluate(default, scope)
    return evaluator.evaluate(otherwise[0], scope) if otherwise else current


@register("IF", 3, lazy=True)
def if_(evaluator: Evaluator, scope: Scope, condition: Node, then: Node, otherwise: Node) -> Any:
    chosen = then if truth(evaluator.evaluate(condition, scope), "IF") else otherwise
    return evaluator.evaluate(chosen, scope)


@register("REGEXP", 2)
def regexp(text: Any, pattern: Any) -> bool:
    return compile_pattern(to_text(pattern), "").search(to_text(text)) is not None
