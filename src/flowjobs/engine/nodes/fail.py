"""``fail``: end the flow with an error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from pydantic import Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

DEFAULT_MESSAGE = "The flow failed"


class FailNode(Node):
    """Fails the flow with ``message`` (a JSONata expression) or ``messageText``
    (literal text); exactly one of them must be given."""

    node_type: ClassVar[str] = "fail"

    message: Any = None
    message_text: str | None = Field(default=None, alias="messageText")

    _expression: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if (self.message is None) == (self.message_text is None):
            ctx.problem(self, "give exactly one of message (an expression) or messageText")
            return
        if self.message is not None:
            self._expression = ctx.expression(self, "message", self.message)

    async def run(self, state: RunState) -> NoReturn:
        text = self.message_text
        if self._expression is not None:
            text = _as_text(state.evaluate(self, "message", self._expression))
        raise FlowExecutionError(text or DEFAULT_MESSAGE, node_id=self.id, error_type="FlowFailed")


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
