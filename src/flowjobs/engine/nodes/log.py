"""``log``: write a line to the job's log."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class LogNode(Node):
    """``message``: a JSONata expression (a non-string value is logged as JSON);
    ``level``: ``info`` (default), ``warning`` or ``error``. The result is
    ``{"message": text}``."""

    node_type: ClassVar[str] = "log"

    message: Any
    level: Literal["info", "warning", "error"] = "info"

    _expression: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        self._expression = ctx.expression(self, "message", self.message)

    async def run(self, state: RunState) -> dict[str, Any]:
        assert self._expression is not None
        value = state.evaluate(self, "message", self._expression)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        state.ctx.log(text, level=self.level, nodeId=self.id)
        return {"message": text}
