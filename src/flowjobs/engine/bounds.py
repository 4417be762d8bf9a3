"""Size bounds on a flow document itself: the length of each string and array.

Checked when a flow is validated (push, the Management API, a worker compiling
it), so a document that passes them cannot make a run slow by its size alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowjobs.engine.limits import EngineLimits

_MAX_REPORTED = 20  # a document with thousands of long strings lists the first ones


def size_problems(document: Any, limits: EngineLimits) -> list[str]:
    """One problem per string or array over its limit, naming the limit."""
    problems: list[str] = []
    for path, value in _values(document):
        if isinstance(value, str) and len(value) > limits.max_string_length:
            problems.append(
                f"{path or 'the document'}: a string of {len(value)} characters, over the "
                f"limit of {limits.max_string_length} (max_string_length)"
            )
        elif isinstance(value, list) and len(value) > limits.max_array_length:
            problems.append(
                f"{path or 'the document'}: an array of {len(value)} items, over the "
                f"limit of {limits.max_array_length} (max_array_length)"
            )
        if len(problems) >= _MAX_REPORTED:
            break
    return problems


def _values(document: Any) -> Iterator[tuple[str, Any]]:
    """Every value with its path, each container once (YAML aliases share them)."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            stack.extend(
                (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
            )
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
