"""The decision-table document as DecisionRules exports it, read into a small model.

A document holds ``decisionTable.columns`` (condition columns with an
``inputVariable``, result columns with an ``outputVariable``, calculation
columns with a variable of their own) and ``decisionTable.rows`` whose
``cells`` name their column by ``columnId``. Reading never raises: every
problem is collected with its row and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flowjobs.decisions.problems import RuleProblem

ColumnKind = Literal["input", "output", "calculation"]
_COLUMN_BODY = {"input": "condition", "output": "columnOutput", "calculation": "columnCalculation"}
_VARIABLE_KEY = {
    "input": "inputVariable",
    "output": "outputVariable",
    "calculation": "variableName",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its kind, where its value comes from or goes, and how users name it."""

    position: int  # 0-based place in ``columns``
    column_id: str
    kind: ColumnKind
    name: str
    variable: str  # inputVariable, outputVariable, or the calculation variable
    alias: str | None = None

    def names(self) -> set[str]:
        """Every name ``options.includedConditionCols`` may use for this column."""
        found = {self.variable, self.name, self.column_id}
        if self.alias:
            found.add(self.alias)
        return found


@dataclass(frozen=True, slots=True)
class Row:
    """One row: its 1-based number, whether it is active, and its cells by column id."""

    number: int
    active: bool
    cells: dict[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Table:
    """Columns in order, rows in order, and the rule variables by name."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    variables: dict[str, Any]

    def column(self, column_id: str) -> Column | None:
        return next((c for c in self.columns if c.column_id == column_id), None)


def read_table(document: Mapping[str, Any]) -> tuple[Table, list[RuleProblem]]:
    """The table of ``document`` and every structural problem found reading it."""
    problems: list[RuleProblem] = []
    body = document.get("decisionTable") if isinstance(document, Mapping) else None
    if not isinstance(body, Mapping):
        return Table((), (), {}), [RuleProblem("decisionTable must be an object")]
    columns = _read_columns(body.get("columns"), problems)
    known = {c.column_id for c in columns}
    rows = _read_rows(body.get("rows"), known, problems)
    variables = read_variables(document.get("userVariables"), problems)
    return Table(tuple(columns), tuple(rows), variables), problems


def _read_columns(raw: Any, problems: list[RuleProblem]) -> list[Column]:
    if not isinstance(raw, list) or not raw:
        problems.append(RuleProblem("decisionTable.columns must be a non-empty array"))
        return []
    columns: list[Column] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        column = _read_column(position, item, problems)
        if column is None:
            continue
        if column.column_id in seen:
            problems.append(RuleProblem("two columns have this columnId", None, column.name))
            continue
        seen.add(column.column_id)
        columns.append(column)
    return columns


def _read_column(position: int, item: Any, problems: list[RuleProblem]) -> Column | None:
    where = f"column {position + 1}"
    if not isinstance(item, Mapping):
        problems.append(RuleProblem(f"{where} must be an object"))
        return None
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in _COLUMN_BODY:
        problems.append(RuleProblem(f"{where} has unknown type {kind!r}"))
        return None
    inner = item.get(_COLUMN_BODY[kind])
    inner = inner if isinstance(inner, Mapping) else {}
    declared = _declared_variable(kind, inner)
    variable = declared or inner.get("name")
    column_id = item.get("columnId")
    name = str(inner.get("name") or variable or where)
    if not isinstance(column_id, str | int) or isinstance(column_id, bool):
        problems.append(RuleProblem("the column has no columnId", None, name))
        return None
    if kind != "calculation" and not declared:
        problems.append(RuleProblem(f"the column has no {_VARIABLE_KEY[kind]}", None, name))
        return None
    if not isinstance(variable, str) or not variable:
        problems.append(RuleProblem("the calculation column has no variable name", None, name))
        return None
    alias = item.get("alias")
    column_kind: ColumnKind = "input" if kind == "input" else "output"
    if kind == "calculation":
        column_kind = "calculation"
    return Column(
        position,
        str(column_id),
        column_kind,
        name,
        variable,
        alias if isinstance(alias, str) else None,
    )


def _declared_variable(kind: str, inner: Mapping[str, Any]) -> str | None:
    """The column's variable: ``inputVariable``/``outputVariable``/``variableName``, or the
    newer export's ``definition.content`` (``{"type": "INPUT_VARIABLE", "content": "x"}``)."""
    value = inner.get(_VARIABLE_KEY[kind])
    if kind == "calculation":
        value = value or inner.get("outputVariable")
    definition = inner.get("definition")
    if not value and isinstance(definition, Mapping):
        value = definition.get("content")
    return value if isinstance(value, str) and value else None


def _read_rows(raw: Any, known: set[str], problems: list[RuleProblem]) -> list[Row]:
    if not isinstance(raw, list):
        problems.append(RuleProblem("decisionTable.rows must be an array"))
        return []
    rows: list[Row] = []
    for index, item in enumerate(raw):
        number = index + 1
        if not isinstance(item, Mapping):
            problems.append(RuleProblem("the row must be an object", number))
            continue
        cells: dict[str, Mapping[str, Any]] = {}
        raw_cells = item.get("cells")
        if not isinstance(raw_cells, list):
            problems.append(RuleProblem("the row has no cells array", number))
            raw_cells = []
        for cell in raw_cells:
            _read_cell(cell, number, known, cells, problems)
        rows.append(Row(number, item.get("active", True) is not False, cells))
    return rows


def _read_cell(
    cell: Any,
    number: int,
    known: set[str],
    cells: dict[str, Mapping[str, Any]],
    problems: list[RuleProblem],
) -> None:
    if not isinstance(cell, Mapping) or not isinstance(cell.get("column"), str | int):
        problems.append(RuleProblem("a cell must be an object with a column", number))
        return
    column_id = str(cell["column"])
    if column_id not in known:
        problems.append(RuleProblem("the cell's column does not exist", number, column_id))
        return
    if column_id in cells:
        problems.append(RuleProblem("two cells for one column", number, column_id))
        return
    cells[column_id] = cell


def read_variables(raw: Any, problems: list[RuleProblem]) -> dict[str, Any]:
    """``userVariables`` (a list of ``{"name", "value"}``; empty entries skipped) by name."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, list):
        problems.append(RuleProblem("userVariables must be an array"))
        return {}
    variables: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, Mapping) or not item:
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(RuleProblem("a rule variable has no name"))
            continue
        variables[name] = item.get("value")
    return variables
