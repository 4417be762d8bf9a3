"""Result and calculation cells compiled to closures ``value(scope, evaluator)``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from flowjobs.decisions.ast import Literal, Node
from flowjobs.decisions.cellvalues import cast_text
from flowjobs.decisions.checks import node_problems
from flowjobs.decisions.closures import compile_node
from flowjobs.decisions.evaluator import Evaluator
from flowjobs.decisions.parser import parse_leaf, parse_template, parse_tree
from flowjobs.decisions.problems import ExpressionError
from flowjobs.decisions.scope import Scope

OutputValue = Callable[[Scope, Evaluator], Any]


class OutputError(Exception):
    """A result cell that cannot be compiled; the message says why."""


def output_node(cell: Mapping[str, Any]) -> Node:
    """The expression of a result cell (``outputScalarValue``), as a node."""
    raw = cell.get("outputScalarValue")
    if raw is None:
        raw = cell.get("calculationScalarValue", cell.get("value"))
    if not isinstance(raw, Mapping):
        return Literal(raw)
    kind = raw.get("type")
    value = raw.get("value", raw.get("stringValue"))
    try:
        if kind == "function" or (kind is None and isinstance(value, Mapping | list)):
            if isinstance(value, str):
                return parse_leaf(value)
            return parse_tree(value)
        return _common_node(value)
    except ExpressionError as error:
        raise OutputError(error.message) from None


def _common_node(value: Any) -> Node:
    """A plain value: cast text (``"8"`` is 8), ``{var}`` replaced in text."""
    if not isinstance(value, str):
        return Literal(value)
    node = parse_template(value)
    if isinstance(node, Literal):
        return Literal(cast_text(value))
    return node


def compile_output(cell: Mapping[str, Any]) -> tuple[OutputValue, Node]:
    """The closure giving the cell's value (None when its expression fails), and its node."""
    node = output_node(cell)
    problems = node_problems(node)
    if problems:
        raise OutputError("; ".join(problems))
    if isinstance(node, Literal):
        constant = node.value
        if isinstance(constant, dict | list):
            return (lambda scope, evaluator: copy.deepcopy(constant)), node
        return (lambda scope, evaluator: constant), node

    value = compile_node(node)

    def run(scope: Scope, evaluator: Evaluator) -> Any:
        try:
            return value(scope, evaluator)
        except ExpressionError:
            return None  # DecisionRules gives an empty value when a function fails

    return run, node


def set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """``target[a][b] = value`` for the path ``("a", "b")``, making the objects between."""
    for step in path[:-1]:
        inner = target.get(step)
        if not isinstance(inner, dict):
            inner = {}
            target[step] = inner
        target = inner
    target[path[-1]] = value
