"""Problems found in a decision table, and the errors a solve can raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flowjobs.errors import BadRequestError, InvalidRuleError


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with a rule document, located where a user can find it."""

    message: str
    row: int | None = None  # 1-based row of the table
    column: str | None = None  # column name, or the variable the problem is about

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


def shown(value: Any, limit: int = 60) -> str:
    """A value for a message, cut short: an input or a cell can be megabytes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


class RuleInvalid(InvalidRuleError):
    """The decision table is not valid."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.rule_problems = list(problems)
        super().__init__([str(problem) for problem in self.rule_problems])


class ExpressionError(BadRequestError):
    """An expression could not be parsed or evaluated."""

    code = "INVALID_EXPRESSION"


class ExpressionTooComplex(ExpressionError):
    """An expression nests too deeply or is too long."""

    code = "EXPRESSION_TOO_COMPLEX"


class SolveError(BadRequestError):
    """The rule could not be solved for this input."""

    code = "SOLVE_ERROR"


class SolveDepthError(SolveError):
    """SOLVE calls nest deeper than allowed."""

    code = "SOLVE_DEPTH_EXCEEDED"
