"""Compile a decision table into closures and hash lookups, and solve it.

Compiling parses every cell once: conditions become closures, results become
closures or constants, and each static equality cell (``=``, ``IN``) goes into
a hash index of its column, so a solve looks up the rows a request value can
match instead of testing every row. The caller keeps one CompiledRule per
rule version.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flowjobs.decisions.conditions import Condition, ConditionError, compile_condition
from flowjobs.decisions.evaluator import Evaluator
from flowjobs.decisions.options import SolveContext, SolveOptions, normalise_strategy
from flowjobs.decisions.outputs import OutputError, OutputValue, compile_output, set_path
from flowjobs.decisions.parser import parse_ref
from flowjobs.decisions.problems import (
    ExpressionError,
    RuleInvalid,
    RuleProblem,
    SolveDepthError,
)
from flowjobs.decisions.scope import Scope
from flowjobs.decisions.table import Column, Row, Table
from flowjobs.decisions.values import eq_key, json_value

# how deep the SOLVE calls of this thread are, so a rule solved from another
# one is judged against the depth limit however the caller wires its callback
SOLVE_DEPTH: ContextVar[int] = ContextVar("flowjobs_decisions_solve_depth", default=0)
MAX_PLANS = 64  # lookup plans kept per rule (one per set of included condition columns)


@dataclass(frozen=True, slots=True)
class _Step:
    """A result or calculation cell of a row, in column order."""

    path: tuple[str, ...] | None  # where a result goes in the row's output
    variable: str | None  # the calculation variable it sets
    value: OutputValue


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    conditions: tuple[tuple[int, Condition], ...]  # (condition column position, condition)
    steps: tuple[_Step, ...]


@dataclass(frozen=True, slots=True)
class _Index:
    """The hash index of one condition column: rows by key, and rows it cannot rule out."""

    position: int
    rows_by_key: dict[Hashable, frozenset[int]]
    always: frozenset[int]

    def candidates(self, value: Any) -> frozenset[int]:
        key = _request_key(value)
        found = self.rows_by_key.get(key) if key is not None else None
        return found | self.always if found else self.always


@dataclass(frozen=True, slots=True)
class _Plan:
    """Which rows to test for a set of active condition columns, and what to test in them."""

    rows: tuple[tuple[tuple[int, Condition], ...], ...]  # per row: conditions left to test
    all_rows: tuple[tuple[tuple[int, Condition], ...], ...]  # per row: every active condition
    indexes: tuple[_Index, ...]  # smallest candidate sets first


class CompiledRule:
    """A decision table ready to solve; build it once per rule version and reuse it."""

    def __init__(self, table: Table, rows: list[_Row], condition_columns: list[Column]) -> None:
        self.table = table
        self._rows = tuple(rows)
        self._inputs = tuple(condition_columns)
        self._input_refs = tuple(parse_ref(c.variable) for c in condition_columns)
        calc = {c.variable for c in table.columns if c.kind == "calculation"}
        self._has_calculations = bool(calc)
        self._late = tuple(ref.path[0] in calc for ref in self._input_refs)
        self._plans: dict[frozenset[int], _Plan] = {}

    @property
    def row_count(self) -> int:
        """Active rows."""
        return len(self._rows)

    def solve(
        self,
        data: Any,
        *,
        strategy: str = "STANDARD",
        options: SolveOptions | None = None,
        context: SolveContext | None = None,
    ) -> Any:
        """The result for one input, as DecisionRules' Solver API gives it for that input.

        Always an array: the outputs of the matching rows (STANDARD), of the first
        (FIRST_MATCH), all merged into one object of arrays (ARRAY), or of every row
        with ``_match`` (EVALUATE_ALL).
        """
        try:
            return self._solve(data, normalise_strategy(strategy), options, context)
        except RecursionError:
            # SOLVE chains of deep expressions can outgrow Python's stack before the depth
            # limit: a clear 400, never a crash
            raise SolveDepthError(
                "the rule's SOLVE calls and expressions nest too deeply"
            ) from None

    def _solve(
        self,
        data: Any,
        strategy: str,
        options: SolveOptions | None,
        context: SolveContext | None,
    ) -> list[Any]:
        evaluator = Evaluator(_effective_context(context))
        scope = Scope(data if data is not None else {}, self.table.variables)
        plan = self._plan(self._active_positions(options))
        values = [
            None if late else scope.resolve(ref.path, ref.text)
            for ref, late in zip(self._input_refs, self._late, strict=True)
        ]
        if strategy == "EVALUATE_ALL":
            return self._evaluate_all(plan, values, scope, evaluator)
        matches = self._matches(plan, values, scope, evaluator)
        if strategy == "FIRST_MATCH":
            first = next(matches, None)
            return [] if first is None else [first]
        found = list(matches)
        if strategy == "ARRAY":
            return [merge_as_arrays(found)] if found else []
        return found

    # -- matching -----------------------------------------------------------------------

    def _matches(
        self, plan: _Plan, values: list[Any], scope: Scope, evaluator: Evaluator
    ) -> Iterator[Any]:
        matched_any = False
        for index in self._candidates(plan, values):
            row = self._rows[index]
            row_scope = self._row_scope(row, scope, evaluator)
            if self._row_matches(plan.rows[index], values, row_scope, evaluator, matched_any):
                matched_any = True
                yield self._outputs(row, row_scope, evaluator)

    def _evaluate_all(
        self, plan: _Plan, values: list[Any], scope: Scope, evaluator: Evaluator
    ) -> list[Any]:
        results = []
        matched_any = False
        for index, row in enumerate(self._rows):
            row_scope = self._row_scope(row, scope, evaluator)
            conditions = plan.all_rows[index]
            match = self._row_matches(conditions, values, row_scope, evaluator, matched_any)
            matched_any = matched_any or match
            output = self._outputs(row, row_scope, evaluator)
            output["_match"] = match
            results.append(output)
        return results

    def _candidates(self, plan: _Plan, values: list[Any]) -> Iterator[int]:
        if not plan.indexes:
            return iter(range(len(self._rows)))
        found = plan.indexes[0].candidates(values[plan.indexes[0].position])
        for index in plan.indexes[1:]:
            if not found:
                break
            found = found & index.candidates(values[index.position])
        return iter(sorted(found))

    def _row_matches(
        self,
        conditions: tuple[tuple[int, Condition], ...],
        values: list[Any],
        scope: Scope,
        evaluator: Evaluator,
        matched_before: bool,
    ) -> bool:
        for position, condition in conditions:
            if condition.is_else:
                if matched_before:
                    return False
                continue
            value = values[position]
            if self._late[position]:
                ref = self._input_refs[position]
                value = scope.resolve(ref.path, ref.text)
            if not condition.test(value, scope, evaluator):
                return False
        return True

    # -- outputs ----------------------------------------------------------------------

    def _row_scope(self, row: _Row, scope: Scope, evaluator: Evaluator) -> Scope:
        """The scope of a row: calculation columns computed first when the table has any."""
        if not self._has_calculations:
            return scope
        row_scope = scope.with_locals({})
        for step in row.steps:
            if step.variable is not None:
                row_scope = row_scope.with_locals({step.variable: step.value(row_scope, evaluator)})
        return row_scope

    def _outputs(self, row: _Row, scope: Scope, evaluator: Evaluator) -> dict[str, Any]:
        output: dict[str, Any] = {}
        row_scope = Scope(scope.data, scope.variables, output, scope.locals)
        for step in row.steps:
            if step.path is not None:
                set_path(output, step.path, json_value(step.value(row_scope, evaluator)))
        return output

    # -- plans ------------------------------------------------------------------------

    def _active_positions(self, options: SolveOptions | None) -> frozenset[int]:
        everything = frozenset(range(len(self._inputs)))
        if options is None:
            return everything
        if options.included_condition_cols is not None:
            wanted = options.included_condition_cols
            return frozenset(i for i, c in enumerate(self._inputs) if c.names() & wanted)
        if options.excluded_condition_cols:
            unwanted = options.excluded_condition_cols
            return frozenset(i for i, c in enumerate(self._inputs) if not c.names() & unwanted)
        return everything

    def _plan(self, active: frozenset[int]) -> _Plan:
        plan = self._plans.get(active)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = build_plan(self._rows, active, self._late)
            self._plans[active] = plan
        return plan


def build_plan(rows: tuple[_Row, ...], active: frozenset[int], late: tuple[bool, ...]) -> _Plan:
    """The hash index of every equality column of the active ones, and what is left to test.

    A row found through an index whose keys are exact need not test that cell again.
    """
    per_row = tuple(tuple(pc for pc in row.conditions if pc[0] in active) for row in rows)
    indexes = []
    for position in sorted(active):
        index = None if late[position] else _build_index(per_row, position)
        if index is not None:
            indexes.append(index)
    indexes.sort(key=lambda ix: len(ix.always) - len(ix.rows_by_key))
    skipped = {
        (row_index, ix.position)
        for ix in indexes
        for row_index, conds in enumerate(per_row)
        if row_index not in ix.always and _exact_at(conds, ix.position)
    }
    left = tuple(
        tuple(pc for pc in conds if (row_index, pc[0]) not in skipped)
        for row_index, conds in enumerate(per_row)
    )
    return _Plan(left, per_row, tuple(indexes))


def _build_index(
    per_row: tuple[tuple[tuple[int, Condition], ...], ...], position: int
) -> _Index | None:
    rows_by_key: dict[Hashable, set[int]] = {}
    always: set[int] = set()
    for row_index, conds in enumerate(per_row):
        keys = _index_keys(conds, position)
        if keys is None:
            always.add(row_index)
            continue
        for key in keys:
            rows_by_key.setdefault(key, set()).add(row_index)
    if not rows_by_key or len(always) == len(per_row):
        return None
    frozen = {key: frozenset(found) for key, found in rows_by_key.items()}
    return _Index(position, frozen, frozenset(always))


def _index_keys(conditions: tuple[tuple[int, Condition], ...], position: int) -> Any:
    """The row's hash keys in the column at ``position``; None if the row cannot be indexed."""
    for pos, condition in conditions:
        if pos == position:
            return condition.index_keys
    return None  # no condition there (or excluded): the row matches any value


def _exact_at(conditions: tuple[tuple[int, Condition], ...], position: int) -> bool:
    return any(pos == position and c.exact_keys for pos, c in conditions)


def _request_key(value: Any) -> Hashable | None:
    try:
        return eq_key(value)
    except TypeError:
        return None


def _effective_context(context: SolveContext | None) -> SolveContext:
    base = context or SolveContext()
    depth = max(base.depth, SOLVE_DEPTH.get())
    if depth == base.depth:
        return base
    return SolveContext(base.solve_rule, depth, base.max_depth)


def merge_as_arrays(outputs: list[Any]) -> dict[str, Any]:
    """The ARRAY strategy: one object whose every leaf is the array of the rows' values."""
    merged: dict[str, Any] = {}
    for output in outputs:
        _merge_into(merged, output)
    return merged


def _merge_into(target: dict[str, Any], output: Mapping[str, Any]) -> None:
    for key, value in output.items():
        if isinstance(value, Mapping) and value and isinstance(target.get(key, {}), dict):
            inner = target.setdefault(key, {})
            _merge_into(inner, value)
        else:
            existing = target.get(key)
            if isinstance(existing, list):
                existing.append(value)
            else:
                target[key] = [value]


# -- compiling --------------------------------------------------------------------------


def compile_table(table: Table) -> tuple[CompiledRule, list[RuleProblem]]:
    """The compiled form of ``table`` and the problems of its cells."""
    problems: list[RuleProblem] = []
    condition_columns = [c for c in table.columns if c.kind == "input"]
    positions = {c.column_id: i for i, c in enumerate(condition_columns)}
    rows = []
    for row in table.rows:
        compiled = _compile_row(table, row, positions, problems)
        if row.active:
            rows.append(compiled)
    return CompiledRule(table, rows, condition_columns), problems


def _compile_row(
    table: Table, row: Row, positions: dict[str, int], problems: list[RuleProblem]
) -> _Row:
    conditions: list[tuple[int, Condition]] = []
    steps: list[_Step] = []
    for column in table.columns:
        cell = row.cells.get(column.column_id)
        if cell is None:
            continue
        try:
            if column.kind == "input":
                conditions.append((positions[column.column_id], compile_condition(cell)))
            else:
                steps.append(_compile_step(column, cell))
        except (ConditionError, OutputError) as error:
            problems.append(RuleProblem(str(error), row.number, column.name))
        except ExpressionError as error:
            problems.append(RuleProblem(error.message, row.number, column.name))
    return _Row(row.number, tuple(conditions), tuple(steps))


def _compile_step(column: Column, cell: Mapping[str, Any]) -> _Step:
    value, _node = compile_output(cell)
    if column.kind == "calculation":
        return _Step(None, column.variable, value)
    return _Step(tuple(column.variable.split(".")), None, value)


def compile_rule(document: Mapping[str, Any]) -> CompiledRule:
    """The compiled form of ``document``; RuleInvalid lists every problem if it is not valid."""
    from flowjobs.decisions.validate import check_rule

    problems, compiled = check_rule(document)
    if compiled is None:
        raise RuleInvalid(problems)
    return compiled


__all__ = ["CompiledRule", "compile_rule", "compile_table"]
