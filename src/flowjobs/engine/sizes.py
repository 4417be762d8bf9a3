"""Approximate sizes of a run's live data, and the caps on them.

A size is about what the value takes as JSON (strings by their length,
other scalars 8 bytes, a few bytes per container and key); the Python
objects behind it take more. Measuring stops as soon as a value passes the
cap it is measured against, so a huge value costs no more than the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowjobs.errors import FlowExecutionError

LIMIT_VARIABLE = "LIMIT_VARIABLE_SIZE"
LIMIT_JOB_DATA = "LIMIT_JOB_DATA_SIZE"
_SCALAR_BYTES = 8


def approximate_size(value: Any, stop_after: int) -> int:
    """The approximate JSON size of ``value``; once it passes ``stop_after``,
    a number over ``stop_after`` (measuring stops there)."""
    size = 0
    stack = [value]
    seen: set[int] = set()  # a container referenced twice (a YAML alias) counts once
    while stack and size <= stop_after:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, dict | list):
            if id(item) in seen:
                continue
            seen.add(id(item))
            size += 2 + (
                sum(len(str(key)) + 4 for key in item) if isinstance(item, dict) else len(item)
            )
            if size <= stop_after:  # a container over the bound alone is not walked
                stack.extend(item.values() if isinstance(item, dict) else item)
        else:
            size += _SCALAR_BYTES
    return size


@dataclass
class ResultSizes:
    """The sizes of the node results one state sees (copied with its results
    for an isolated loop iteration)."""

    sizes: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def set(self, node_id: str, size: int) -> None:
        self.total += size - self.sizes.get(node_id, 0)
        self.sizes[node_id] = size

    def copy(self) -> ResultSizes:
        return ResultSizes(dict(self.sizes), self.total)


@dataclass
class LiveData:
    """The sizes of a run's variables, shared by every state of the run
    (nested node lists, loop iterations, called flows). Keyed by the
    variables' dict as well as their name: a called flow has its own."""

    variables: dict[tuple[int, str], int] = field(default_factory=dict)
    total: int = 0

    def set_variable(self, scope: object, name: str, size: int) -> None:
        key = (id(scope), name)
        self.total += size - self.variables.get(key, 0)
        self.variables[key] = size

    def forget(self, scope: object) -> None:
        """Drop the sizes of a called flow's variables once its run is over."""
        for key in [key for key in self.variables if key[0] == id(scope)]:
            self.total -= self.variables.pop(key)


def variable_too_large(node_id: str, name: str, size: int, limit: int) -> FlowExecutionError:
    return FlowExecutionError(
        f'node "{node_id}": variable "{name}" would hold more than {limit} bytes '
        f"(about {size} as JSON), over the limit of one variable (max_variable_bytes)",
        node_id=node_id,
        error_type=LIMIT_VARIABLE,
    )


def job_data_too_large(node_id: str, total: int, limit: int) -> FlowExecutionError:
    return FlowExecutionError(
        f'node "{node_id}": the run\'s variables and node results would hold about {total} '
        f"bytes, over the limit of {limit} bytes for one job (max_job_data_bytes)",
        node_id=node_id,
        error_type=LIMIT_JOB_DATA,
    )
