"""Flow documents from request bodies: JSON, or YAML with a YAML content
type, parsed off the event loop within a size and a time budget.

Parsing is pure-Python work: PyYAML reads about 60 KB a second of a
document of many small items, so a 1 MB YAML body held the event loop (the
API and the embedded worker) for 62 s (issue 17). A YAML body is refused
unread past ``max_yaml_bytes``, parsed in a thread (the GIL passes back to
the loop every few milliseconds) by a loader that stops once
``document_budget_seconds`` have gone, and its values counted there too
(YAML aliases can make a small body a huge document). A large JSON body is
counted in a thread as well; ``json.loads`` itself is C and fast.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import yaml

from flowjobs.api.deps import check_json_bounds, json_too_deep, parse_json
from flowjobs.config import Settings
from flowjobs.errors import InvalidJsonError, OverBudgetError, PayloadTooLargeError

INLINE_JSON_BYTES = 64 * 1024  # smaller JSON bodies are parsed on the loop (well under 1 ms)


async def parse_document(body: bytes, content_type: str, settings: Settings) -> Any:
    """The body as a flow document (4xx problems for bodies that are not one)."""
    if "yaml" not in content_type:
        if len(body) <= INLINE_JSON_BYTES:
            return parse_json(body, max_depth=settings.max_json_depth)
        return await asyncio.to_thread(parse_json, body, max_depth=settings.max_json_depth)
    if len(body) > settings.max_yaml_bytes:
        raise PayloadTooLargeError(
            f"The YAML request body is larger than {settings.max_yaml_bytes} bytes "
            "(FLOWJOBS_MAX_YAML_BYTES); send it as JSON, or smaller"
        )
    return await asyncio.to_thread(parse_yaml, body, settings)


def parse_yaml(body: bytes, settings: Settings) -> Any:
    """Parse ``body`` as YAML (safe: plain data only) within the budget; run it
    in a thread."""
    loader = BudgetedLoader(body, time.monotonic() + settings.document_budget_seconds)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InvalidJsonError(f"The request body is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise json_too_deep(settings.max_json_depth) from exc
    finally:
        loader.dispose()
    check_json_bounds(document, max_depth=settings.max_json_depth, max_values=2 * len(body) + 1)
    return document


class BudgetedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, stopped once its deadline has passed.

    Checked at every node composed and constructed: the C loader would
    be faster but composes the whole document in C, holding the GIL (and so
    the event loop) with no point at which to stop."""

    def __init__(self, stream: bytes, deadline: float) -> None:
        super().__init__(stream)
        self.deadline = deadline
        self.budget_started = time.monotonic()

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._check_deadline()
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self._check_deadline()
        return super().construct_object(node, deep)

    def _check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise OverBudgetError(
                "The YAML request body took longer to parse than its time budget of "
                f"{self.deadline - self.budget_started:g} s "
                "(FLOWJOBS_DOCUMENT_BUDGET_SECONDS); send it as JSON, or smaller"
            )
