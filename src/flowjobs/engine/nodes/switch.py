"""``switch``: run the node list of the case (or cases) whose condition holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flowjobs.engine.state import RunState


def truthy(value: Any) -> bool:
    """JSONata's ``$boolean``: empty strings, 0, null, empty arrays and objects
    are false; an array is true when any of its members is."""
    if isinstance(value, list):
        return any(truthy(item) for item in value)
    return bool(value)


class SwitchCase(BaseModel):
    """One case: ``when`` (a JSONata expression) and the ``nodes`` it runs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    when: Any
    nodes: Any


class SwitchNode(Node):
    """``cases: [{when, nodes}]``, optional ``default: [nodes]`` and ``strategy``:
    ``first`` (default) runs the first case whose ``when`` is true; ``all``
    evaluates every ``when`` first, then runs each winning case in order. The
    default runs when no case wins. The result is
    ``{"matched": [case indexes], "default": bool}``.
    """

    node_type: ClassVar[str] = "switch"

    cases: list[SwitchCase]
    default: Any = None
    strategy: Literal["first", "all"] = "first"

    _conditions: list[Expression | None] = PrivateAttr(default_factory=list)
    _bodies: list[list[Node]] = PrivateAttr(default_factory=list)
    _default: list[Node] | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if not self.cases:
            ctx.problem(self, "cases: must contain at least one case")
        for index, case in enumerate(self.cases):
            field_name = f"cases[{index}]"
            self._conditions.append(ctx.expression(self, f"{field_name}.when", case.when))
            self._bodies.append(ctx.parse_nodes(case.nodes, f"{self.location}.{field_name}.nodes"))
        if self.default is not None:
            self._default = ctx.parse_nodes(self.default, f"{self.location}.default")

    def child_lists(self) -> Sequence[Sequence[Node]]:
        return [*self._bodies, *([self._default] if self._default is not None else [])]

    async def run(self, state: RunState) -> dict[str, Any]:
        base = state.node_path
        matched = self._matching(state)
        for index in matched:
            await state.child(f"{base}.cases[{index}].nodes").run_nodes(self._bodies[index])
            if state.finished:
                break
        use_default = not matched and self._default is not None
        if use_default and self._default is not None:
            await state.child(f"{base}.default").run_nodes(self._default)
        return {"matched": matched, "default": use_default}

    def _matching(self, state: RunState) -> list[int]:
        matched = []
        for index, condition in enumerate(self._conditions):
            assert condition is not None
            if truthy(state.evaluate(self, f"cases[{index}].when", condition)):
                matched.append(index)
                if self.strategy == "first":
                    break
        return matched
