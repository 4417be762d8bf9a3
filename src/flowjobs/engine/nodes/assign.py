"""``assign``: set flow variables from expressions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import IDENTIFIER, CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


def compile_assignments(
    node: Node, ctx: CompileContext, field_name: str, sources: Mapping[str, Any]
) -> dict[str, Expression]:
    """Parse ``{variable name: expression}``; shared by ``assign`` and ``declare``."""
    expressions: dict[str, Expression] = {}
    for name, source in sources.items():
        if not IDENTIFIER.match(name):
            ctx.problem(node, f"{field_name}: variable name {name!r} is not an identifier")
            continue
        expression = ctx.expression(node, f"{field_name}.{name}", source)
        if expression is not None:
            expressions[name] = expression
    return expressions


def run_assignments(
    node: Node, state: RunState, field_name: str, expressions: Mapping[str, Expression]
) -> dict[str, Any]:
    """Evaluate in order, setting each variable before the next is evaluated."""
    assigned: dict[str, Any] = {}
    for name, expression in expressions.items():
        value = state.evaluate(node, f"{field_name}.{name}", expression)
        state.set_var(node, name, value)
        assigned[name] = value
    return assigned


class AssignNode(Node):
    """``set: {name: expression}``; entries are evaluated in order, so a later
    entry sees the variables set by earlier ones. The result is the dict of
    values it set."""

    node_type: ClassVar[str] = "assign"

    set: dict[str, Any] = Field(min_length=1)

    _expressions: dict[str, Expression] = PrivateAttr(default_factory=dict)

    def compile(self, ctx: CompileContext) -> None:
        self._expressions = compile_assignments(self, ctx, "set", self.set)

    async def run(self, state: RunState) -> dict[str, Any]:
        return run_assignments(self, state, "set", self._expressions)
