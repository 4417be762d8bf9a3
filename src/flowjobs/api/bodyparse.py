"""Request-body parsing that needs nothing of the server: the bounds every
parsed body is held to, and YAML parsing within a time budget.

Run as the YAML parse process (``python -m flowjobs.api.bodyparse``, started
by api/documents.py), so it imports only PyYAML and flowjobs.errors: the
process starts in tens of milliseconds and holds about 12 MB.
"""

from __future__ import annotations

import pickle
import sys
import time
from typing import Any

import yaml

from flowjobs.errors import (
    FlowjobsError,
    InvalidJsonError,
    JsonTooDeepError,
    OverBudgetError,
    PayloadTooLargeError,
)


def json_too_deep(limit: int) -> JsonTooDeepError:
    return JsonTooDeepError(
        f"The request body nests arrays and objects deeper than {limit} levels "
        "(FLOWJOBS_MAX_JSON_DEPTH)"
    )


def check_json_bounds(value: Any, *, max_depth: int, max_values: int) -> None:
    """Refuse a parsed body nested deeper than ``max_depth``, or with more than
    ``max_values`` values (only YAML aliases can expand a body past its bytes)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    visited = 0
    while stack:
        item, depth = stack.pop()
        visited += 1
        if visited > max_values:
            raise PayloadTooLargeError(
                f"The request body expands to more than {max_values} values "
                "(FLOWJOBS_MAX_BODY_BYTES)"
            )
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise json_too_deep(max_depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_yaml(body: bytes, max_depth: int, budget_seconds: float) -> Any:
    """``body`` as YAML (safe: plain data only), stopped past
    ``budget_seconds`` (OverBudgetError), bounded like any body."""
    loader = BudgetedLoader(body, budget_seconds)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InvalidJsonError(f"The request body is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise json_too_deep(max_depth) from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's limit)
        digits = sys.get_int_max_str_digits()
        raise InvalidJsonError(
            f"The request body is not valid YAML: an integer has more than {digits} digits"
        ) from exc
    finally:
        loader.dispose()
    # YAML aliases can make a small body a huge document: count its values too
    check_json_bounds(document, max_depth=max_depth, max_values=2 * len(body) + 1)
    return document


class BudgetedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, stopped once its time is up.

    Checked at every node composed and constructed. (The C loader is faster
    but composes the whole document in C, with no point at which to stop.)"""

    def __init__(self, stream: bytes, budget_seconds: float) -> None:
        super().__init__(stream)
        self.budget_seconds = budget_seconds
        self.deadline = time.monotonic() + budget_seconds

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._check_deadline()
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self._check_deadline()
        return super().construct_object(node, deep)

    def _check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise over_budget(self.budget_seconds)


def over_budget(budget_seconds: float) -> OverBudgetError:
    return OverBudgetError(
        f"The YAML request body took longer to parse than its time budget of "
        f"{budget_seconds:g} s (FLOWJOBS_DOCUMENT_BUDGET_SECONDS); send it as JSON, or smaller"
    )


def main() -> None:
    """``python -m flowjobs.api.bodyparse MAX_DEPTH BUDGET_SECONDS``: parse the
    YAML body on stdin; write the pickled outcome, ``("ok", document)`` or
    ``("error", FlowjobsError)``, on stdout. Run by api/documents.py."""
    max_depth, budget_seconds = int(sys.argv[1]), float(sys.argv[2])
    body = sys.stdin.buffer.read()
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", parse_yaml(body, max_depth, budget_seconds))
    except FlowjobsError as exc:
        outcome = ("error", exc)
    sys.stdout.buffer.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main()
