"""A node type used only by the tests (registered by the ``probe`` fixture)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class ProbeStats:
    in_flight = 0
    max_in_flight = 0
    finished: list[Any] = []  # noqa: RUF012

    @classmethod
    def reset(cls) -> None:
        cls.in_flight = cls.max_in_flight = 0
        cls.finished = []


class ProbeNode(Node):
    """``value``: an expression; yields to the loop ``ticks`` times (an
    expression giving a number), counting how many probes are in flight, and
    returns the value."""

    node_type: ClassVar[str] = "probe"

    value: str
    ticks: str = "3"

    _value: Expression | None = PrivateAttr(default=None)
    _ticks: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        self._value = ctx.expression(self, "value", self.value)
        self._ticks = ctx.expression(self, "ticks", self.ticks)

    async def run(self, state: RunState) -> Any:
        assert self._value is not None and self._ticks is not None
        value = state.evaluate(self, "value", self._value)
        ticks = int(state.evaluate(self, "ticks", self._ticks))
        ProbeStats.in_flight += 1
        ProbeStats.max_in_flight = max(ProbeStats.max_in_flight, ProbeStats.in_flight)
        try:
            for _ in range(ticks):
                await asyncio.sleep(0)
        finally:
            ProbeStats.in_flight -= 1
        ProbeStats.finished.append(value)
        return value
