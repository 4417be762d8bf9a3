"""Compile a decision table into closures and hash lookups, and solve it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowjobs.decisions.options import SolveContext, SolveOptions


class CompiledRule:
    """A decision table ready to solve; build it once per rule version and reuse it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def solve(
        self,
        data: Any,
        *,
        strategy: str = "STANDARD",
        options: SolveOptions | None = None,
        context: SolveContext | None = None,
    ) -> Any:
        """The result for one input, as DecisionRules' Solver API gives it for that input."""
        raise NotImplementedError


def compile_rule(document: Mapping[str, Any]) -> CompiledRule:
    """The compiled form of ``document``; RuleInvalid lists every problem if it is not valid."""
    return CompiledRule(document)
