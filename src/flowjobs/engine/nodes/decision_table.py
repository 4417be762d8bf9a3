"""``decisionTable``: match input values against rows of conditions."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from flowjobs.engine.conditions import Condition, ConditionError, parse_condition
from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import IDENTIFIER, CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState


class DecisionRule(BaseModel):
    """One row: ``when`` maps input names to conditions (see
    ``flowjobs.engine.conditions``); ``then`` is literal JSON data."""

    model_config = ConfigDict(extra="forbid", strict=True)

    when: dict[str, Any] = Field(default_factory=dict)
    then: dict[str, Any]


class DecisionTableNode(Node):
    """``inputs: {name: expression}``; ``rules: [{when, then}]``; ``hitPolicy``:
    ``first`` (default: the result is the first matching row's ``then``, or
    null) or ``collect`` (the list of every matching row's ``then``). An input
    a row does not mention matches anything."""

    node_type: ClassVar[str] = "decisionTable"

    inputs: dict[str, Any] = Field(min_length=1)
    rules: list[DecisionRule] = Field(min_length=1)
    hit_policy: Literal["first", "collect"] = Field(default="first", alias="hitPolicy")

    _inputs: dict[str, Expression] = PrivateAttr(default_factory=dict)
    _rows: list[dict[str, Condition]] = PrivateAttr(default_factory=list)

    def compile(self, ctx: CompileContext) -> None:
        for name, source in self.inputs.items():
            if not IDENTIFIER.match(name):
                ctx.problem(self, f"inputs: input name {name!r} is not an identifier")
                continue
            expression = ctx.expression(self, f"inputs.{name}", source)
            if expression is not None:
                self._inputs[name] = expression
        self._rows = [self._compile_rule(ctx, index, rule) for index, rule in enumerate(self.rules)]

    def _compile_rule(
        self, ctx: CompileContext, index: int, rule: DecisionRule
    ) -> dict[str, Condition]:
        conditions: dict[str, Condition] = {}
        for name, source in rule.when.items():
            where = f"rules[{index}].when.{name}"
            if name not in self.inputs:
                ctx.problem(self, f"{where}: there is no input named {name!r}")
                continue
            try:
                conditions[name] = parse_condition(source)
            except ConditionError as exc:
                ctx.problem(self, f"{where}: invalid condition {source!r}: {exc}")
        return conditions

    async def run(self, state: RunState) -> Any:
        values = {
            name: state.evaluate(self, f"inputs.{name}", expression)
            for name, expression in self._inputs.items()
        }
        hits = []
        for rule, conditions in zip(self.rules, self._rows, strict=True):
            if all(condition.matches(values.get(name)) for name, condition in conditions.items()):
                if self.hit_policy == "first":
                    return copy.deepcopy(rule.then)
                hits.append(copy.deepcopy(rule.then))
        return hits if self.hit_policy == "collect" else None
