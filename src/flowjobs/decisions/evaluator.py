"""Evaluate expression nodes against a scope.

No Python ``eval``: nodes are walked, and nesting is bounded (``max_depth``)
so a hostile expression cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowjobs.decisions.ast import ArrayNode, Call, Literal, Node, ObjectNode, Ref, Template
from flowjobs.decisions.functions.registry import lookup
from flowjobs.decisions.options import SolveContext
from flowjobs.decisions.problems import ExpressionError
from flowjobs.decisions.scope import Scope
from flowjobs.decisions.values import to_text

MAX_EVAL_DEPTH = 200


class Evaluator:
    """Walks nodes; lazy functions get this object to evaluate their own arguments."""

    __slots__ = ("_depth", "context", "max_depth")

    def __init__(
        self, context: SolveContext | None = None, max_depth: int = MAX_EVAL_DEPTH
    ) -> None:
        self.context = context or SolveContext()
        self.max_depth = max_depth
        self._depth = 0

    def evaluate(self, node: Node, scope: Scope) -> Any:
        """The value of ``node`` in ``scope``."""
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Ref):
            return scope.resolve(node.path, node.text)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise ExpressionError("expression nests too deeply")
            return self._evaluate_compound(node, scope)
        finally:
            self._depth -= 1

    def _evaluate_compound(self, node: Node, scope: Scope) -> Any:
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, ArrayNode):
            return [self.evaluate(item, scope) for item in node.items]
        if isinstance(node, ObjectNode):
            return {
                to_text(self.evaluate(key, scope)): self.evaluate(value, scope)
                for key, value in node.items
            }
        if isinstance(node, Template):
            return render_template(node, scope)
        raise ExpressionError(f"cannot evaluate {node!r}")

    def call(self, node: Call, scope: Scope) -> Any:
        """Call the function of ``node`` with its arguments."""
        spec = lookup(node.name)
        if spec.lazy:
            return spec.impl(self, scope, *node.args)
        return spec.impl(*[self.evaluate(arg, scope) for arg in node.args])

    def bind(self, node: Node, scope: Scope) -> Callable[..., Any]:
        """``node`` as a Python callable of named locals, for functions taking a custom function."""

        def run(**names: Any) -> Any:
            return self.evaluate(node, scope.with_locals(names))

        return run


def render_template(node: Template, scope: Scope) -> str:
    """The text of a template, each ``{ref}`` replaced by its value as text."""
    return "".join(
        part if isinstance(part, str) else to_text(scope.resolve(part.path, part.text))
        for part in node.parts
    )


def evaluate_text(
    text: str,
    data: Any = None,
    variables: Mapping[str, Any] | None = None,
    context: SolveContext | None = None,
) -> Any:
    """The value of the expression ``text`` for ``data`` (a convenience for tests and tools)."""
    from flowjobs.decisions.parser import parse_expression

    scope = Scope(data if data is not None else {}, variables or {})
    return Evaluator(context).evaluate(parse_expression(text), scope)
