"""The flow engine's limits and compile options, taken from the settings.

Shared by the catalog (validation at push) and the worker (runs), so that a
flow is judged by the same rules in both places.
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from flowjobs.config import Settings
from flowjobs.engine import EngineLimits, Flow, compile_flow


def engine_limits(settings: Settings) -> EngineLimits:
    """Every engine limit has a setting of the same name."""
    return EngineLimits(**{f.name: getattr(settings, f.name) for f in fields(EngineLimits)})


def compile_document(
    settings: Settings,
    document: dict[str, Any],
    space_id: str | None = None,
    *,
    budgeted: bool = False,
) -> Flow:
    """Validate and compile a flow as this deployment allows it (handler
    prefixes, named SQL connections, limits); raises FlowValidationError.
    With ``space_id``, only the SQL connections open to that space count.
    ``budgeted`` (a document from a request): OverBudgetError past
    ``document_budget_seconds``. Slow for large documents: call it off the
    event loop."""
    connections = (
        settings.sql_connections if space_id is None else settings.sql_connections_open_to(space_id)
    )
    deadline = time.monotonic() + settings.document_budget_seconds if budgeted else None
    return compile_flow(
        document,
        handler_prefixes=settings.handler_prefixes,
        limits=engine_limits(settings),
        sql_connections=set(connections),
        deadline=deadline,
    )
