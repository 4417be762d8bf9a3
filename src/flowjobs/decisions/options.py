"""The options of one solve: the request's ``options`` and the SOLVE callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowjobs.decisions.problems import SolveError

# rule id or alias, version (None: the latest published), input data, strategy -> result
SolveRule = Callable[[str, int | None, Any, str], Any]

STRATEGIES: frozenset[str] = frozenset({"STANDARD", "FIRST_MATCH", "ARRAY", "EVALUATE_ALL"})


def normalise_strategy(value: str | None) -> str:
    """The strategy to use; an unknown or missing one is STANDARD, as DecisionRules documents."""
    if value is None:
        return "STANDARD"
    upper = value.strip().upper()
    return upper if upper in STRATEGIES else "STANDARD"


@dataclass(frozen=True, slots=True)
class SolveOptions:
    """The Solver API request's ``options``.

    ``included_condition_cols`` / ``excluded_condition_cols`` name condition
    columns (by name, column id or input variable) that are evaluated / ignored.
    """

    included_condition_cols: frozenset[str] | None = None
    excluded_condition_cols: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_request(cls, obj: Any) -> SolveOptions:
        """Options from the request body's ``options``; SolveError when malformed."""
        if obj is None:
            return cls()
        if not isinstance(obj, Mapping):
            raise SolveError("options must be an object")
        included = _column_list(obj, "includedConditionCols")
        excluded = _column_list(obj, "excludedConditionCols")
        return cls(included, excluded or frozenset())


def _column_list(obj: Mapping[str, Any], key: str) -> frozenset[str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise SolveError(f"options.{key} must be an array of column names")
    return frozenset(str(v) for v in value)


@dataclass(frozen=True, slots=True)
class SolveContext:
    """How a table reaches other rules: SOLVE calls ``solve_rule``, at most ``max_depth`` deep."""

    solve_rule: SolveRule | None = None
    depth: int = 0
    max_depth: int = 8

    def deeper(self) -> SolveContext:
        """The context of a rule solved from this one."""
        return SolveContext(self.solve_rule, self.depth + 1, self.max_depth)
