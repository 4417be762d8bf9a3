"""Python handler flows: ``handler: "package.module:function"``."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from flowjobs.engine.context import RunContext

Handler = Callable[[RunContext], Any]

_REFERENCE = re.compile(
    r"^(?P<module>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r":(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$"
)


def module_allowed(module: str, prefixes: Sequence[str]) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them.

    Prefix ``myflows`` allows ``myflows`` and ``myflows.x`` but not ``myflowsevil``.
    """
    for prefix in prefixes:
        prefix = prefix.strip().rstrip(".")
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return True
    return False


def resolve_handler(reference: str, prefixes: Sequence[str]) -> tuple[Handler | None, list[str]]:
    """Import the function named by ``reference``; returns it, or ``None`` and the problems."""
    match = _REFERENCE.match(reference)
    if match is None:
        return None, [f'handler: {reference!r} is not of the form "package.module:function"']
    module_name, attr = match["module"], match["attr"]
    if not module_allowed(module_name, prefixes):
        allowed = ", ".join(repr(p) for p in prefixes) or "none configured"
        return None, [
            f"handler: module {module_name!r} is not allowed (allowed prefixes: {allowed})"
        ]
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or anything the module raised on import
        return None, [f"handler: cannot import module {module_name!r}: {exc}"]
    function = getattr(module, attr, None)
    if function is None:
        return None, [f"handler: module {module_name!r} has no attribute {attr!r}"]
    if not callable(function):
        return None, [f"handler: {reference!r} is not callable"]
    return function, []


async def call_handler(handler: Handler, ctx: RunContext) -> Any:
    """Await an async handler, or run a sync one in a worker thread."""
    if inspect.iscoroutinefunction(handler):
        return await handler(ctx)
    result = await asyncio.to_thread(handler, ctx)
    if inspect.isawaitable(result):
        result = await result
    return result
