"""``end``: finish the flow, optionally with an output expression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class EndNode(Node):
    """Ends the flow; the value of ``output`` (null if absent) is the flow's output."""

    node_type: ClassVar[str] = "end"

    output: Any = None

    _expression: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if self.output is not None:
            self._expression = ctx.expression(self, "output", self.output)

    async def run(self, state: RunState) -> Any:
        output = None
        if self._expression is not None:
            output = state.evaluate(self, "output", self._expression)
        state.finish(output)
        return output
