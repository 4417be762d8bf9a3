"""``rule``: solve a decision table or rule flow of the same space, as the
Solver API would (DecisionRules' "Business Rule" node)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.engine.state import RunState
from flowjobs.errors import FlowExecutionError, FlowjobsError

Strategy = Literal["STANDARD", "FIRST_MATCH", "ARRAY", "EVALUATE_ALL"]


class RuleNode(Node):
    """``rule``: the table's alias or baseId (a literal); ``version``: a
    version number, or absent for the latest published one; ``strategy``:
    STANDARD (default), FIRST_MATCH, ARRAY or EVALUATE_ALL; ``input``: an
    expression giving the input data (an object, or an array for a bulk
    solve; null if absent). The result is the Solver API's answer for that
    input: for a STANDARD solve, the list of the matching rows' outputs."""

    node_type: ClassVar[str] = "rule"

    rule: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1)
    strategy: Strategy = "STANDARD"
    input: Any = None

    _input: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if self.input is not None:
            self._input = ctx.expression(self, "input", self.input)

    async def run(self, state: RunState) -> Any:
        solve = state.services.solve_rule
        if solve is None:
            raise self._fail("no rule solver is configured, flows cannot solve rules")
        value = None if self._input is None else state.evaluate(self, "input", self._input)
        state.ctx.log(
            f'node "{self.id}" solves rule "{self.rule}" version {self.version or "latest"}',
            nodeId=self.id,
            rule=self.rule,
            version=self.version,
            strategy=self.strategy,
        )
        try:
            return await solve(self.rule, self.version, value, self.strategy)
        except FlowExecutionError:
            raise
        except FlowjobsError as exc:
            raise self._fail(exc.message, "RuleError") from exc

    def _fail(self, message: str, error_type: str = "RuleError") -> FlowExecutionError:
        return FlowExecutionError(
            f'node "{self.id}": {message}', node_id=self.id, error_type=error_type
        )
