"""The flow engine's limits and compile options, taken from the settings.

Shared by the catalog (validation at push) and the worker (runs), so that a
flow is judged by the same rules in both places.
"""

from __future__ import annotations

from typing import Any

from flowjobs.config import Settings
from flowjobs.engine import EngineLimits, Flow, compile_flow


def engine_limits(settings: Settings) -> EngineLimits:
    return EngineLimits(
        expression_timeout_ms=settings.expression_timeout_ms,
        expression_max_depth=settings.expression_max_depth,
        max_nodes=settings.max_nodes,
        max_foreach_items=settings.max_foreach_items,
        max_parallel=settings.max_parallel,
        max_call_depth=settings.max_call_depth,
        trace_max_entries=settings.trace_max_entries,
        trace_excerpt_bytes=settings.trace_excerpt_bytes,
        max_output_bytes=settings.max_output_bytes,
    )


def compile_document(settings: Settings, document: dict[str, Any]) -> Flow:
    """Validate and compile a flow as this deployment allows it (handler
    prefixes, named SQL connections, limits); raises FlowValidationError."""
    return compile_flow(
        document,
        handler_prefixes=settings.handler_prefixes,
        limits=engine_limits(settings),
        sql_connections=set(settings.sql_connections),
    )
