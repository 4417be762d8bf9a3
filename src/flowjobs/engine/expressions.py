"""JSONata expressions: parsed once at validation, evaluated with time and depth bounds."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import jsonata

from flowjobs.engine.limits import EngineLimits


class ExpressionSyntaxError(ValueError):
    """The expression text is not valid JSONata."""


class ExpressionRuntimeError(RuntimeError):
    """Evaluating the expression failed, ran too long, or recursed too deep."""


class Expression:
    """A parsed JSONata expression.

    The parsed object keeps per-evaluation state, so evaluations of one
    expression are serialised by a lock (they are short and bounded anyway).
    """

    __slots__ = ("_compiled", "_lock", "source")

    def __init__(self, source: str) -> None:
        if not source.strip():
            raise ExpressionSyntaxError("the expression is empty")
        try:
            compiled = jsonata.Jsonata(source)
        except Exception as exc:
            raise ExpressionSyntaxError(str(exc)) from exc
        if compiled.get_errors():
            raise ExpressionSyntaxError(str(compiled.get_errors()[0]))
        # The library would walk the whole scope on every evaluation to check
        # it is JSON (quadratic over a loop on many rows); everything the
        # engine puts in a scope is JSON already.
        compiled.set_validate_input(False)
        self.source = source
        self._compiled = compiled
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def evaluate(self, scope: Mapping[str, Any], limits: EngineLimits) -> Any:
        """Evaluate against ``scope``; raises :class:`ExpressionRuntimeError`."""
        frame = jsonata.Jsonata.Frame(None)
        frame.set_runtime_bounds(limits.expression_timeout_ms, limits.expression_max_depth)
        try:
            with self._lock:
                # Some JSONata functions ($now, higher-order calls) read the
                # thread's "current" expression; make it this one.
                jsonata.Jsonata.CURRENT.jsonata = self._compiled
                result = self._compiled.evaluate(dict(scope), frame)
        except Exception as exc:  # JException, ValueError, RecursionError, ...
            raise ExpressionRuntimeError(_message(exc)) from exc
        return to_json(result)


def _message(exc: Exception) -> str:
    """The library's message, with the name of the limit when one was hit."""
    message = str(exc) or type(exc).__name__
    if message.startswith("Evaluation timeout"):
        return f"{message} (the limit of one evaluation: expression_timeout_ms)"
    return message


def to_json(value: Any) -> Any:
    """Turn a JSONata result into plain JSON values (lists, dicts, scalars)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    raise ExpressionRuntimeError(
        f"the expression returned a {type(value).__name__}, not a JSON value"
    )
