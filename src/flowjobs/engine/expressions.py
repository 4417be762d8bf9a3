"""JSONata expressions: parsed once at validation, evaluated with time, depth
and size bounds. Regex literals run on RE2 (engine/regex.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import jsonata
from jsonata.jexception import JException

from flowjobs.engine.limits import EngineLimits
from flowjobs.engine.regex import linear_regex

# The code a job's error carries when an expression's value passes its cap.
LIMIT_EXPRESSION_RESULT = "LIMIT_EXPRESSION_RESULT_SIZE"
_MIN_VALUE_BYTES = 8  # what any value in a list costs at least (a pointer)


class ExpressionSyntaxError(ValueError):
    """The expression text is not valid JSONata."""


class ExpressionRuntimeError(RuntimeError):
    """Evaluating the expression failed, ran too long, or recursed too deep."""


class ExpressionLimitError(ExpressionRuntimeError):
    """An evaluation passed a size limit; ``code`` names it (the job's error type)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


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
            compiled = jsonata.Jsonata(source, linear_regex)
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
        """Evaluate against ``scope``; raises :class:`ExpressionRuntimeError`
        (:class:`ExpressionLimitError` when the value passes
        ``max_expression_result_bytes``)."""
        frame = jsonata.Jsonata.Frame(None)
        bounds = EvaluationBounds(frame, limits)
        try:
            with self._lock:
                # Some JSONata functions ($now, higher-order calls) read the
                # thread's "current" expression; make it this one.
                jsonata.Jsonata.CURRENT.jsonata = self._compiled
                result = self._compiled.evaluate(dict(scope), frame)
        except Exception as exc:  # JException, ValueError, RecursionError, ...
            if bounds.exceeded is not None:  # the library may have rewrapped it
                raise ExpressionLimitError(bounds.exceeded, LIMIT_EXPRESSION_RESULT) from exc
            raise ExpressionRuntimeError(_message(exc)) from exc
        return to_json(result, limits.max_expression_result_bytes)


class EvaluationBounds:
    """The time, depth and size bounds of one evaluation, checked by the
    library on entry to and exit from every step (as its own Timebox does
    for time and depth). A step whose value is a string or list larger than
    ``max_expression_result_bytes`` stops the evaluation there, so doubling
    a string in a loop ends at the cap, not at the timeout."""

    __slots__ = ("deadline", "depth", "exceeded", "limits", "max_items")

    def __init__(self, frame: Any, limits: EngineLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.expression_timeout_ms / 1000
        self.depth = 0
        self.max_items = limits.max_expression_result_bytes // _MIN_VALUE_BYTES
        self.exceeded: str | None = None
        frame.set_evaluate_entry_callback(self._entry)
        frame.set_evaluate_exit_callback(self._exit)

    def _entry(self, _expr: Any, _input: Any, env: Any) -> None:
        if env.is_parallel_call:
            return
        self.depth += 1
        self._check_runaway()

    def _exit(self, _expr: Any, _input: Any, env: Any, result: Any) -> None:
        if isinstance(result, str | list):
            self._check_size(result)
        if env.is_parallel_call:
            return
        self.depth -= 1
        self._check_runaway()

    def _check_size(self, result: str | list[Any]) -> None:
        if isinstance(result, str):
            if len(result) <= self.limits.max_expression_result_bytes:
                return
            what = f"a string of {len(result)} characters"
        elif len(result) <= self.max_items:
            return
        else:
            what = f"a list of {len(result)} items"
        self.exceeded = _too_large(what, self.limits.max_expression_result_bytes)
        raise JException("D1012", -1, self.limits.expression_timeout_ms)

    def _check_runaway(self) -> None:
        if self.depth > self.limits.expression_max_depth:
            raise JException("D1011", -1)  # stack too deep
        if time.monotonic() > self.deadline:
            raise JException("D1012", -1, self.limits.expression_timeout_ms)


def _too_large(what: str, limit: int) -> str:
    return (
        f"the expression's value ({what}) is over the limit of {limit} bytes "
        "(max_expression_result_bytes)"
    )


def _message(exc: Exception) -> str:
    """The library's message, with the name of the limit when one was hit."""
    message = str(exc) or type(exc).__name__
    if message.startswith("Evaluation timeout"):
        return f"{message} (the limit of one evaluation: expression_timeout_ms)"
    return message


def to_json(value: Any, max_bytes: int | None = None) -> Any:
    """Turn a JSONata result into plain JSON values (lists, dicts, scalars);
    :class:`ExpressionLimitError` once its JSON size passes ``max_bytes``."""
    budget = _Budget(max_bytes)
    return budget.plain(value)


class _Budget:
    """Converts a value while counting its approximate JSON size."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.left = limit if limit is not None else -1

    def _spend(self, size: int) -> None:
        if self.limit is None:
            return
        self.left -= size
        if self.left < 0:
            raise ExpressionLimitError(
                _too_large(f"more than {self.limit} bytes as JSON", self.limit),
                LIMIT_EXPRESSION_RESULT,
            )

    def plain(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            self._spend(_MIN_VALUE_BYTES)
            return value
        if isinstance(value, str):
            self._spend(len(value) + 2)
            return value
        if isinstance(value, list):
            self._spend(2 + len(value))
            return [self.plain(item) for item in value]
        if isinstance(value, dict):
            self._spend(2 + 2 * len(value))
            return {self._key(key): self.plain(item) for key, item in value.items()}
        raise ExpressionRuntimeError(
            f"the expression returned a {type(value).__name__}, not a JSON value"
        )

    def _key(self, key: Any) -> str:
        text = str(key)
        self._spend(len(text) + 2)
        return text
