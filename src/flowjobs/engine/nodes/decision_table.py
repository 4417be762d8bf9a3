"""``decisionTable``: match input values against rows of conditions, with
the decision-table operators of DecisionRules (:mod:`flowjobs.decisions`,
the same as the Solver API's). The rows are compiled once, at push, into a
DecisionRules table whose one output is the row's number."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from flowjobs.decisions import CompiledRule, RuleInvalid, compile_rule, validate_rule
from flowjobs.engine.conditions import ConditionError, to_scalar_condition
from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import IDENTIFIER, CompileContext, Node

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

ROW_OUTPUT = "row"  # the output variable of the compiled table: which row matched
_STRATEGIES = {"first": "FIRST_MATCH", "collect": "STANDARD"}


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
    _table: CompiledRule | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        for name, source in self.inputs.items():
            if not IDENTIFIER.match(name):
                ctx.problem(self, f"inputs: input name {name!r} is not an identifier")
                continue
            expression = ctx.expression(self, f"inputs.{name}", source)
            if expression is not None:
                self._inputs[name] = expression
        document, problems = self._document()
        if not problems:
            problems = [self._where(p.row, p.column) + p.message for p in validate_rule(document)]
        for problem in problems:
            ctx.problem(self, problem)
        if not problems:
            try:
                self._table = compile_rule(document)
            except RuleInvalid as exc:  # validate_rule said nothing: should not happen
                for problem in exc.problems:
                    ctx.problem(self, problem)

    def _document(self) -> tuple[dict[str, Any], list[str]]:
        """The rows as a DecisionRules decision table, and the conditions'
        problems (each named by its row and input)."""
        names = list(self.inputs)
        columns: list[dict[str, Any]] = [
            {"type": "input", "columnId": name, "condition": _input_column(name)} for name in names
        ]
        columns.append({"type": "output", "columnId": ROW_OUTPUT, "columnOutput": _row_column()})
        rows, problems = [], []
        for index, rule in enumerate(self.rules):
            cells = []
            for name in rule.when:
                if name not in self.inputs:
                    problems.append(f"rules[{index}].when.{name}: there is no input named {name!r}")
            for name in names:
                try:
                    condition = to_scalar_condition(rule.when.get(name))
                except ConditionError as exc:
                    source = rule.when.get(name)
                    problems.append(
                        f"rules[{index}].when.{name}: invalid condition {source!r}: {exc}"
                    )
                    continue
                cells.append({"type": "input", "column": name, "scalarCondition": condition})
            cells.append(
                {
                    "type": "output",
                    "column": ROW_OUTPUT,
                    "outputScalarValue": {"type": "common", "value": f"r{index}"},
                }
            )
            rows.append({"active": True, "cells": cells})
        document = {
            "name": self.id,
            "type": "decision-table",
            "inputSchema": {name: {} for name in names},
            "outputSchema": {ROW_OUTPUT: {}},
            "decisionTable": {"columns": columns, "rows": rows},
        }
        return document, problems

    def _where(self, row: int | None, column: str | None) -> str:
        place = "rules" if row is None else f"rules[{row - 1}]"
        if column is not None and column in self.inputs:
            place += f".when.{column}"
        return place + ": "

    async def run(self, state: RunState) -> Any:
        assert self._table is not None  # compiled at push
        values = {
            name: state.evaluate(self, f"inputs.{name}", expression)
            for name, expression in self._inputs.items()
        }
        outputs = self._table.solve(values, strategy=_STRATEGIES[self.hit_policy])
        hits = [copy.deepcopy(self.rules[_row_index(o)].then) for o in outputs or []]
        if self.hit_policy == "first":
            return hits[0] if hits else None
        return hits


def _input_column(name: str) -> dict[str, Any]:
    return {"name": name, "inputVariable": name, "type": "simple"}


def _row_column() -> dict[str, Any]:
    return {"name": ROW_OUTPUT, "outputVariable": ROW_OUTPUT, "type": "simple"}


def _row_index(output: Any) -> int:
    return int(str(output[ROW_OUTPUT])[1:])
