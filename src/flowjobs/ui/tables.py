"""A DecisionRules decision table as the dashboard's read-only grid: one
header cell per column, one line per row, each cell's condition or result
as text. Pure; tolerant of documents it cannot read (shown as they are)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 500  # a bigger table shows its first rows; the document has them all
MAX_CELL = 200  # characters of one cell's text


@dataclass(frozen=True)
class GridColumn:
    name: str
    variable: str
    kind: str  # "input" or "output"


@dataclass(frozen=True)
class GridRow:
    number: int  # 1-based, as validation problems name rows
    active: bool
    cells: list[str]


@dataclass(frozen=True)
class Grid:
    columns: list[GridColumn]
    rows: list[GridRow]
    total_rows: int


def decision_grid(document: Mapping[str, Any]) -> Grid | None:
    """The grid of a decision table; None for other documents."""
    table = document.get("decisionTable")
    if document.get("type") != "decision-table" or not isinstance(table, Mapping):
        return None
    raw_columns = [c for c in table.get("columns") or [] if isinstance(c, Mapping)]
    columns = [_column(c) for c in raw_columns]
    ids = [c.get("columnId") for c in raw_columns]
    raw_rows = [r for r in table.get("rows") or [] if isinstance(r, Mapping)]
    rows = [_row(index + 1, row, ids) for index, row in enumerate(raw_rows[:MAX_ROWS])]
    return Grid(columns, rows, len(raw_rows))


def _column(column: Mapping[str, Any]) -> GridColumn:
    kind = str(column.get("type", ""))
    inner = column.get("condition") if kind == "input" else column.get("columnOutput")
    inner = inner if isinstance(inner, Mapping) else {}
    variable = inner.get("inputVariable") or inner.get("outputVariable") or ""
    return GridColumn(str(inner.get("name") or variable), str(variable), kind)


def _row(number: int, row: Mapping[str, Any], ids: list[Any]) -> GridRow:
    by_column: dict[Any, str] = {}
    for cell in row.get("cells") or []:
        if isinstance(cell, Mapping):
            by_column[cell.get("column")] = _cell_text(cell)
    return GridRow(
        number, row.get("active", True) is not False, [by_column.get(i, "") for i in ids]
    )


def _cell_text(cell: Mapping[str, Any]) -> str:
    condition = cell.get("scalarCondition")
    if isinstance(condition, Mapping):
        text = f"{condition.get('operator', '')} {_value(condition.get('value'))}"
    else:
        result = cell.get("outputScalarValue")
        result = result if isinstance(result, Mapping) else {}
        text = str(result.get("stringValue") or _value(result.get("value")))
    text = text.strip()
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
