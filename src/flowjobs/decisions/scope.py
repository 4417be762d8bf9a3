"""What an expression sees: the input data, the rule variables, the outputs so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(slots=True)
class Scope:
    """The names a ``{reference}`` can resolve to.

    ``{a.b}`` looks in ``outputs`` first (a later output column may use an
    earlier one, as ``{prices.crudePrice}`` in Test_v2.json does), then in the
    input ``data``, then in the rule ``variables`` (by whole name). ``locals``
    holds the names bound by functions that take a custom function (the
    current item of ARRAY_MAP and similar).
    """

    data: Any
    variables: Mapping[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    locals: Mapping[str, Any] | None = None

    def with_locals(self, names: Mapping[str, Any]) -> Scope:
        """A scope that also sees ``names`` (shadowing the others)."""
        merged = {**self.locals, **names} if self.locals else dict(names)
        return Scope(self.data, self.variables, self.outputs, merged)

    def resolve(self, path: tuple[str | int, ...], text: str) -> Any:
        """The value at ``path``; None when nothing has it."""
        for source in (self.locals, self.outputs):
            if source:
                found = walk(source, path)
                if found is not _MISSING:
                    return found
        found = walk(self.data, path)
        if found is not _MISSING:
            return found
        if text in self.variables:
            return self.variables[text]
        found = walk(self.variables, path)
        return None if found is _MISSING else found


def walk(value: Any, path: tuple[str | int, ...]) -> Any:
    """Follow ``path`` through dicts and lists; ``_MISSING`` when a step is absent."""
    for step in path:
        if type(value) is dict or isinstance(value, Mapping):  # dict first: no ABC check
            key = step if isinstance(step, str) else str(step)
            if key not in value:
                return _MISSING
            value = value[key]
        elif isinstance(value, list) and isinstance(step, int):
            if not -len(value) <= step < len(value):
                return _MISSING
            value = value[step]
        elif isinstance(value, list) and isinstance(step, str) and step.isdigit():
            index = int(step)
            if index >= len(value):
                return _MISSING
            value = value[index]
        else:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    """True for the marker ``walk`` gives when a path is absent."""
    return value is _MISSING
