"""Expression nodes compiled to Python closures ``value(scope, evaluator)``.

The evaluator walks nodes and dispatches on their type at every step; a
compiled cell does that once, when the table is compiled: each node becomes a
closure that calls its children's closures and the function's code directly.
Lazy functions (IF, AND, custom functions) still get their argument nodes and
evaluate them through the evaluator, as their interface says.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from flowjobs.decisions.ast import ArrayNode, Call, Literal, Node, ObjectNode, Ref, Template
from flowjobs.decisions.evaluator import Evaluator
from flowjobs.decisions.functions.registry import FUNCTIONS, lookup
from flowjobs.decisions.scope import Scope
from flowjobs.decisions.values import to_text

Compiled = Callable[[Scope, Evaluator], Any]


def compile_node(node: Node) -> Compiled:
    """The closure computing ``node``'s value (what ``Evaluator.evaluate`` gives)."""
    if isinstance(node, Literal):
        return _constant(node.value)
    if isinstance(node, Ref):
        return _reference(node)
    if isinstance(node, Call):
        return _call(node)
    if isinstance(node, ArrayNode):
        items = [compile_node(item) for item in node.items]
        return lambda scope, evaluator: [item(scope, evaluator) for item in items]
    if isinstance(node, ObjectNode):
        entries = [(compile_node(k), compile_node(v)) for k, v in node.items]
        return lambda scope, evaluator: {
            to_text(k(scope, evaluator)): v(scope, evaluator) for k, v in entries
        }
    return _template(node)


def _constant(value: Any) -> Compiled:
    if isinstance(value, dict | list):
        return lambda scope, evaluator: copy.deepcopy(value)
    return lambda scope, evaluator: value


def _reference(node: Ref) -> Compiled:
    path, text = node.path, node.text
    return lambda scope, evaluator: scope.resolve(path, text)


def _call(node: Call) -> Compiled:
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        name = node.name
        return lambda scope, evaluator: lookup(name)  # raises "unknown function"
    impl = spec.impl
    if spec.lazy:
        args = node.args
        return lambda scope, evaluator: impl(evaluator, scope, *args)
    compiled = [compile_node(arg) for arg in node.args]
    if len(compiled) == 1:
        (only,) = compiled
        return lambda scope, evaluator: impl(only(scope, evaluator))
    if len(compiled) == 2:
        first, second = compiled
        return lambda scope, evaluator: impl(first(scope, evaluator), second(scope, evaluator))
    return lambda scope, evaluator: impl(*[arg(scope, evaluator) for arg in compiled])


def _template(node: Template) -> Compiled:
    parts = [part if isinstance(part, str) else _reference(part) for part in node.parts]

    def render(scope: Scope, evaluator: Evaluator) -> str:
        return "".join(
            part if isinstance(part, str) else to_text(part(scope, evaluator)) for part in parts
        )

    return render
