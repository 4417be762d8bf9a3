"""``wait``: pause the flow for a number of seconds."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

# Sleep in slices this long so that RunContext.cancel() is noticed even when
# nobody cancels the asyncio task; a task cancel interrupts the sleep at once.
_CANCEL_CHECK_SECONDS = 0.25


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
        await _sleep(state, float(seconds))
        return {"waited": seconds}


async def _sleep(state: RunState, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        state.ctx.raise_if_canceled()
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _CANCEL_CHECK_SECONDS))
