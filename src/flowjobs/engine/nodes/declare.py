"""``declare``: declare flow variables with their values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.assign import compile_assignments, run_assignments
from flowjobs.engine.nodes.base import CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class DeclareNode(Node):
    """``vars: {name: expression}``; like ``assign``: entries are evaluated in
    order and the result is the dict of values it set."""

    node_type: ClassVar[str] = "declare"

    vars: dict[str, Any] = Field(min_length=1)

    _expressions: dict[str, Expression] = PrivateAttr(default_factory=dict)

    def compile(self, ctx: CompileContext) -> None:
        self._expressions = compile_assignments(self, ctx, "vars", self.vars)

    async def run(self, state: RunState) -> dict[str, Any]:
        return run_assignments(self, state, "vars", self._expressions)
