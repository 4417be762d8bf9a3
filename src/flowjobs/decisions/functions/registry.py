"""The function registry: every function an expression may call, by upper-case name.

Families (math.py, logical.py, text.py, dates.py, arrays.py, data.py, json.py)
register their functions with ``@register`` when ``functions/__init__.py``
imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flowjobs.decisions.problems import ExpressionError

Impl = Callable[..., Any]
F = TypeVar("F", bound=Impl)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function: its name, how many arguments it takes, and its code.

    An eager function's ``impl(*values)`` gets evaluated arguments; a lazy
    one's ``impl(evaluator, scope, *nodes)`` gets the argument nodes and
    evaluates them itself (IF, AND/OR short-circuit, custom functions).
    """

    name: str
    min_args: int
    max_args: int | None
    impl: Impl
    lazy: bool = False

    def check_count(self, count: int) -> str | None:
        """A message when ``count`` arguments do not fit, else None."""
        if count < self.min_args or (self.max_args is not None and count > self.max_args):
            if self.max_args is None:
                wanted = f"at least {self.min_args}"
            elif self.max_args == self.min_args:
                wanted = str(self.min_args)
            else:
                wanted = f"{self.min_args} to {self.max_args}"
            return f"function {self.name} takes {wanted} arguments, got {count}"
        return None


FUNCTIONS: dict[str, FunctionSpec] = {}


def register(
    name: str, min_args: int, max_args: int | None = -1, *, lazy: bool = False
) -> Callable[[F], F]:
    """Register the decorated function under ``name``.

    ``max_args`` defaults to ``min_args``; None means any number.
    """
    top = min_args if max_args == -1 else max_args

    def decorate(impl: F) -> F:
        key = name.upper()
        if key in FUNCTIONS:
            raise ValueError(f"function {key} registered twice")
        FUNCTIONS[key] = FunctionSpec(key, min_args, top, impl, lazy)
        return impl

    return decorate


def lookup(name: str) -> FunctionSpec:
    """The function named ``name`` (any case); ExpressionError if there is none."""
    spec = FUNCTIONS.get(name.upper())
    if spec is None:
        raise ExpressionError(f"unknown function {name!r}")
    return spec
