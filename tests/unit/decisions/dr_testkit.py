"""Helpers for the decisions tests: evaluate an expression, or say it is "invalid"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowjobs.decisions import ExpressionError, validate_expression
from flowjobs.decisions.evaluator import evaluate_text

INVALID = object()  # the docs' "invalid": refused at validation or failing when evaluated
SAMPLES = Path(__file__).parents[2] / "data" / "decisionrules"  # the samples, copied into the repo


def check(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    """``expression`` on ``data`` gives ``expected`` (or fails, when ``expected`` is INVALID)."""
    if expected is INVALID:
        problems = validate_expression(expression)
        if problems:
            return
        with pytest.raises(ExpressionError):
            evaluate_text(expression, data or {})
        return
    assert validate_expression(expression) == []
    result = evaluate_text(expression, data or {})
    if isinstance(expected, float) and not isinstance(result, bool):
        assert result == pytest.approx(expected, rel=1e-9)
    else:
        assert result == expected
        assert type(result) is type(expected) or {type(result), type(expected)} <= {int, float}


def one_condition_table(operator: str, value: Any, cell_type: str = "general") -> dict[str, Any]:
    """A table with one condition column (on ``x``) and one result ``hit: true``."""
    return {
        "type": "decision-table",
        "decisionTable": {
            "columns": [
                {
                    "type": "input",
                    "columnId": "c",
                    "condition": {"name": "Cond", "inputVariable": "x", "type": "simple"},
                },
                {
                    "type": "output",
                    "columnId": "o",
                    "columnOutput": {"name": "Hit", "outputVariable": "hit", "type": "simple"},
                },
            ],
            "rows": [
                {
                    "active": True,
                    "cells": [
                        {
                            "type": "input",
                            "column": "c",
                            "scalarCondition": {
                                "type": cell_type,
                                "operator": operator,
                                "value": value,
                            },
                        },
                        {
                            "type": "output",
                            "column": "o",
                            "outputScalarValue": {"type": "common", "value": "true"},
                        },
                    ],
                }
            ],
        },
    }
