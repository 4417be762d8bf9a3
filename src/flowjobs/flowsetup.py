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
    settings: Settings, document: dict[str, Any], *, budgeted: bool = False
) -> Flow:
    """Validate and compile a flow as this deployment allows it (handler
    prefixes, named SQL connections, limits); raises FlowValidationError.
    ``budgeted`` (a document from a request): OverBudgetError past
    ``document_budget_seconds``. Slow for large documents: call it off the
    event loop."""
    deadline = time.monotonic() + settings.document_budget_seconds if budgeted else None
    return compile_flow(
        document,
        handler_prefixes=settings.handler_prefixes,
        limits=engine_limits(settings),
        sql_connections=set(settings.sql_connections),
        deadline=deadline,
    )
