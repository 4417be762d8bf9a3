"""DecisionRules decision tables: the expression language, operators, compile and solve.

Pure: no I/O, no asyncio; of flowjobs it imports only ``flowjobs.errors``.
The caller (the Solver API, the flow node ``rule``) stores rules, caches the
compiled form per rule version and answers SOLVE calls through
``SolveContext.solve_rule``.
"""

from __future__ import annotations

from flowjobs.decisions import functions as _functions  # registers every function
from flowjobs.decisions.checks import validate_expression
from flowjobs.decisions.compiler import CompiledRule, compile_rule
from flowjobs.decisions.operators import load_operator_modules
from flowjobs.decisions.options import (
    STRATEGIES,
    SolveContext,
    SolveOptions,
    SolveRule,
    normalise_strategy,
)
from flowjobs.decisions.problems import (
    ExpressionError,
    RuleInvalid,
    RuleProblem,
    SolveDepthError,
    SolveError,
)
from flowjobs.decisions.validate import referenced_rules, validate_rule

del _functions
load_operator_modules()  # the general operators, and the date operators where present

__all__ = [
    "STRATEGIES",
    "CompiledRule",
    "ExpressionError",
    "RuleInvalid",
    "RuleProblem",
    "SolveContext",
    "SolveDepthError",
    "SolveError",
    "SolveOptions",
    "SolveRule",
    "compile_rule",
    "normalise_strategy",
    "referenced_rules",
    "validate_expression",
    "validate_rule",
]
