"""``wait``: pause the flow for a number of seconds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _seconds_problem(value: Any) -> str | None:
    if not _is_number(value) or not math.isfinite(value):
        return f"seconds must be a finite number, got {value!r}"
    if value < 0:
        return f"seconds must not be negative, got {value!r}"
    return None


class WaitNode(Node):
    """``seconds``: a number or a JSONata expression giving a number. The result
    is ``{"waited": seconds}``."""

    node_type: ClassVar[str] = "wait"

    seconds: Any

    _expression: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if isinstance(self.seconds, str):
            self._expression = ctx.expression(self, "seconds", self.seconds)
            return
        problem = _seconds_problem(self.seconds)
        if problem is not None:
            ctx.problem(self, problem)

    async def run(self, state: RunState) -> dict[str, Any]:
        seconds = self.seconds
        if self._expression is not None:
            seconds = state.evaluate(self, "seconds", self._expression)
        problem = _seconds_problem(seconds)
        if problem is not None:
            raise FlowExecutionError(f'node "{self.id}": {problem}', node_id=self.id)
        await state.sleep(float(seconds))
        return {"waited": seconds}
