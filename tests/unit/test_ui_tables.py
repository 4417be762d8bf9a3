"""The dashboard's read-only grid of a decision table (ui/tables.py)."""

from __future__ import annotations

import json
from pathlib import Path

from flowjobs.ui.tables import MAX_ROWS, decision_grid

SAMPLES = Path(__file__).parents[1] / "data" / "decisionrules"


def test_a_sample_table_as_a_grid() -> None:
    document = json.loads((SAMPLES / "Test_v2.json").read_text())
    grid = decision_grid(document)
    assert grid is not None
    assert [c.kind for c in grid.columns] == ["input"] * 3 + ["output"] * 3
    assert grid.columns[0].name == "Product type" and grid.columns[0].variable == "productType"
    first = grid.rows[0]
    assert first.number == 1 and first.active
    assert first.cells[:3] == ["= basic_1", "= month", "= {PromoCode}"]
    assert first.cells[4] == "{prices.crudePrice}*(100-{PromoDiscount})/100"
    assert grid.total_rows == len(grid.rows) == 48


def test_other_documents_have_no_grid() -> None:
    assert decision_grid({"name": "flow", "nodes": []}) is None
    assert decision_grid({"type": "decision-table", "decisionTable": "x"}) is None


def test_inactive_rows_missing_cells_and_long_tables() -> None:
    rows = [{"active": False, "cells": []}] + [{"cells": []}] * (MAX_ROWS + 5)
    columns = [{"type": "input", "columnId": "a", "condition": {"inputVariable": "a"}}]
    grid = decision_grid(
        {"type": "decision-table", "decisionTable": {"columns": columns, "rows": rows}}
    )
    assert grid is not None
    assert grid.rows[0].active is False and grid.rows[0].cells == [""]
    assert grid.columns[0].name == "a"
    assert len(grid.rows) == MAX_ROWS and grid.total_rows == MAX_ROWS + 6
