"""Functions every table needs that belong to no documented family: EVAL."""

from __future__ import annotations

from typing import Any

from flowjobs.decisions.functions.registry import register


@register("EVAL", 1)
def eval_(value: Any) -> Any:
    """The value of its argument: exported trees wrap a ``{ref}`` inside JSON in EVAL."""
    return value
