"""Compiled rules of this process, kept per rule version (an LRU).

A version's document changes only by an update of that version, which also
moves its ``updated_at``: the key holds it, so an updated version is compiled
again and the old entry ages out.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any, Protocol

from flowjobs.decisions import SolveContext, SolveOptions, compile_rule
from flowjobs.domain import RULE_TYPE_COMPOSITION, RULE_TYPE_TABLE, RuleVersion
from flowjobs.errors import RuleNotSolvableError
from flowjobs.solver.ruleflow import CompiledRuleFlow

DEFAULT_CAPACITY = 1024


class Solvable(Protocol):
    """A compiled decision table or rule flow."""

    def solve(
        self,
        data: Any,
        *,
        strategy: str = "STANDARD",
        options: SolveOptions | None = None,
        context: SolveContext | None = None,
    ) -> Any: ...


VersionKey = tuple[str, int, datetime | None]


def compile_version(rule: RuleVersion) -> Solvable:
    """The compiled form of a stored rule; RuleInvalid if its table is not valid."""
    if rule.type == RULE_TYPE_TABLE:
        return compile_rule(rule.document)
    if rule.type == RULE_TYPE_COMPOSITION:
        return CompiledRuleFlow(rule.document)
    raise RuleNotSolvableError(
        f"Rule {rule.alias!r} is a {rule.type}; only decision tables and rule flows "
        "can be solved (start integration flows with POST /job/start)"
    )


class CompiledRules:
    """The last ``capacity`` compiled rule versions, most recently used kept."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[VersionKey, Solvable] = OrderedDict()
        self.compiles = 0  # how many times a document was compiled (tests, metrics)

    def get(self, rule: RuleVersion) -> Solvable:
        key: VersionKey = (rule.base_id, rule.version, rule.updated_at)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        compiled = compile_version(rule)
        self.compiles += 1
        self._entries[key] = compiled
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return compiled
