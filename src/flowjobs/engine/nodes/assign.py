"""``assign``: set flow variables from expressions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import IDENTIFIER, CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class AssignNode(Node):
    """``set: {name: expression}``; entries are evaluated in order, so a later
    entry sees the variables set by earlier ones. The result is the dict of
    values it set."""

    node_type: ClassVar[str] = "assign"

    set: dict[str, Any] = Field(min_length=1)

    _expressions: dict[str, Expression] = PrivateAttr(default_factory=dict)

    def compile(self, ctx: CompileContext) -> None:
        for name, source in self.set.items():
            if not IDENTIFIER.match(name):
                ctx.problem(self, f"set: variable name {name!r} is not an identifier")
                continue
            expression = ctx.expression(self, f"set.{name}", source)
            if expression is not None:
                self._expressions[name] = expression

    async def run(self, state: RunState) -> dict[str, Any]:
        assigned: dict[str, Any] = {}
        for name, expression in self._expressions.items():
            value = state.evaluate(self, f"set.{name}", expression)
            state.vars[name] = value
            assigned[name] = value
        return assigned
