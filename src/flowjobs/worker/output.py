"""A flow's output checked before its job's end is written."""

from __future__ import annotations

from typing import Any

from flowjobs import jsoncheck
from flowjobs.jsoncheck import MAX_DEPTH_CEILING

OUTPUT_INVALID = "OUTPUT_INVALID"  # the error type of a job whose output cannot be stored


def not_json(value: Any, max_depth: int = MAX_DEPTH_CEILING) -> str | None:
    """Why a flow's output cannot be stored and served as JSON on either
    database (jsoncheck.py: too deep, NUL, lone surrogate, NaN, not JSON), or
    None when it can. Checked before a job's end is written, so that such an
    output fails its job at once with a clear error (keeping its logs)
    instead of failing the write, or every later read of the job."""
    found = jsoncheck.problem(value, max_depth=max_depth)
    return None if found is None else found.describe("The flow's output")
