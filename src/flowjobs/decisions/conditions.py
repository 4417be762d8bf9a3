"""Condition cells compiled to closures ``test(request value, scope, evaluator) -> bool``."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from flowjobs.decisions.ast import Literal, Node
from flowjobs.decisions.cellvalues import operand_node, split_members, split_range
from flowjobs.decisions.checks import node_problems
from flowjobs.decisions.closures import compile_node
from flowjobs.decisions.evaluator import Evaluator
from flowjobs.decisions.functions.logical import truth
from flowjobs.decisions.operators import OperatorSpec, find_operator
from flowjobs.decisions.parser import parse_expression, parse_tree
from flowjobs.decisions.problems import ExpressionError
from flowjobs.decisions.scope import Scope
from flowjobs.decisions.values import eq_key

ConditionTest = Callable[[Any, Scope, Evaluator], bool]


class ConditionError(Exception):
    """A condition cell that cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition cell.

    ``index_keys`` are the hash keys of a static equality cell (``=``, ``IN``):
    the rows a request value can match are found by lookup instead of a scan.
    """

    operator: str
    test: ConditionTest
    is_else: bool = False
    index_keys: tuple[Hashable, ...] | None = None
    exact_keys: bool = False  # equal keys mean the test passes, so an index hit needs no test
    nodes: tuple[Node, ...] = ()  # every expression in the cell, for validation


def compile_condition(cell: Mapping[str, Any]) -> Condition:
    """The condition of a cell (``scalarCondition``); ConditionError if it is not valid."""
    raw = cell.get("scalarCondition")
    if raw is None:
        return Condition("ANYTHING", _pass)
    if not isinstance(raw, Mapping):
        raise ConditionError("scalarCondition must be an object")
    name = raw.get("operator")
    if not isinstance(name, str):
        raise ConditionError("the condition has no operator")
    spec = find_operator(name, raw.get("type") if isinstance(raw.get("type"), str) else None)
    if spec is None:
        raise ConditionError(f"unknown operator {name!r}")
    value = raw.get("value")
    if spec.operand in ("none", "else"):
        return Condition(
            spec.name,
            _pass if spec.operand == "else" else _static(spec, None),
            is_else=spec.operand == "else",
        )
    if spec.operand == "function":
        return _function_condition(spec, value)
    return _operand_condition(spec, value)


def _pass(value: Any, scope: Scope, evaluator: Evaluator) -> bool:
    return True


def _static(spec: OperatorSpec, operand: Any) -> ConditionTest:
    test = spec.test

    def run(value: Any, scope: Scope, evaluator: Evaluator) -> bool:
        try:
            return bool(test(value, operand))
        except (ExpressionError, TypeError, ValueError):
            return False

    return run


def _function_condition(spec: OperatorSpec, value: Any) -> Condition:
    try:
        # strict: a function cell that is no expression is a problem, never a text compare
        node = parse_expression(value) if isinstance(value, str) else parse_tree(value)
    except ExpressionError as error:
        raise ConditionError(error.message) from None
    problems = node_problems(node)
    if problems:
        raise ConditionError("; ".join(problems))

    value = compile_node(node)

    def run(request: Any, scope: Scope, evaluator: Evaluator) -> bool:
        try:
            return truth(value(scope, evaluator), "function")
        except ExpressionError:
            return False

    return Condition(spec.name, run, nodes=(node,))


def _operand_nodes(spec: OperatorSpec, value: Any) -> tuple[Node, ...]:
    if spec.operand == "list":
        return tuple(operand_node(member) for member in split_members(value))
    if spec.operand == "range":
        bounds = split_range(value)
        if bounds is None:
            raise ConditionError(f"operator {spec.name} needs two values, e.g. 3 AND 5")
        return operand_node(bounds[0]), operand_node(bounds[1])
    return (operand_node(value if value is not None else ""),)


def _shape(spec: OperatorSpec, values: list[Any]) -> Any:
    prepare = spec.prepare
    if prepare is not None:
        values = [prepare(v) for v in values]
    if spec.operand == "list":
        return values
    if spec.operand == "range":
        return (values[0], values[1])
    return values[0]


def _operand_condition(spec: OperatorSpec, value: Any) -> Condition:
    nodes = _operand_nodes(spec, value)
    problems = [p for node in nodes for p in node_problems(node)]
    if problems:
        raise ConditionError("; ".join(problems))
    if all(isinstance(node, Literal) for node in nodes):
        values = [node.value for node in nodes if isinstance(node, Literal)]
        try:
            operand = _shape(spec, values)
        except (ExpressionError, TypeError, ValueError) as error:
            raise ConditionError(f"operator {spec.name}: {error}") from None
        keys = _keys(spec, values)
        exact = keys is not None and not any(_text_with_other_key(v) for v in values)
        return Condition(spec.name, _static(spec, operand), index_keys=keys, exact_keys=exact)
    return Condition(spec.name, _dynamic(spec, nodes), nodes=nodes)


def _dynamic(spec: OperatorSpec, nodes: tuple[Node, ...]) -> ConditionTest:
    test = spec.test
    operands = [compile_node(node) for node in nodes]
    if spec.operand == "value" and spec.prepare is None:
        (single,) = operands

        def run_single(value: Any, scope: Scope, evaluator: Evaluator) -> bool:
            try:
                return bool(test(value, single(scope, evaluator)))
            except (ExpressionError, TypeError, ValueError):
                return False

        return run_single

    def run(value: Any, scope: Scope, evaluator: Evaluator) -> bool:
        try:
            operand = _shape(spec, [operand(scope, evaluator) for operand in operands])
            return bool(test(value, operand))
        except (ExpressionError, TypeError, ValueError):
            return False

    return run


def _keys(spec: OperatorSpec, values: list[Any]) -> tuple[Hashable, ...] | None:
    if not spec.equality or spec.prepare is not None:
        return None
    keys = [eq_key(v) for v in values]
    if any(k is None for k in keys):
        return None
    return tuple(keys)


def _text_with_other_key(value: Any) -> bool:
    """Text keyed as a number or boolean ("3", "true"): two such texts can share a key
    without being equal ("3" and "3.0"), so a hit on them is tested again."""
    if not isinstance(value, str):
        return False
    key = eq_key(value)
    return key is not None and key[0] != "text"
