"""A flow's output must be strict JSON before its job's end is written."""

from __future__ import annotations

import math

from flowjobs.worker.output import not_json


def test_json_output_passes() -> None:
    assert not_json([{"a": 1, "b": [1.5, "x", None, True]}]) is None


def test_nan_and_infinity_are_named() -> None:
    for value in (math.nan, math.inf, -math.inf):
        problem = not_json([{"score": value}])
        assert problem is not None and "JSON" in problem


def test_values_json_cannot_hold_are_named() -> None:
    problem = not_json([{1, 2}])
    assert problem is not None and "set" in problem
