"""Compiled rules of this process, kept per rule version (an LRU).

A version's document changes only by an update of that version, which also
moves its ``updated_at``: the key holds it, so an updated version is compiled
again and the old entry ages out. Beside the compiled form, an entry keeps
what else is read from the whole document once: the rules it names (SOLVE
with literal ids, a rule flow's tables) and whether its SOLVE calls may name
rules by value.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flowjobs.decisions import SolveContext, SolveOptions, compile_rule, referenced_rules
from flowjobs.domain import RULE_TYPE_COMPOSITION, RULE_TYPE_TABLE, RuleVersion
from flowjobs.errors import RuleNotSolvableError
from flowjobs.solver import ruleflow
from flowjobs.solver.ruleflow import CompiledRuleFlow

DEFAULT_CAPACITY = 1024

RuleKey = tuple[str, int | None]  # (id or alias, version or None: latest published)
VersionKey = tuple[str, int, datetime | None]


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


@dataclass(frozen=True)
class Prepared:
    """One rule version, ready: compiled, with the rules it names."""

    compiled: Solvable
    references: frozenset[RuleKey]
    solves_by_value: bool  # a SOLVE whose rule is a value: any rule of the space


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


def prepare(rule: RuleVersion) -> Prepared:
    """Compile a version and read what it names (CPU work: run it in a thread)."""
    compiled = compile_version(rule)
    if rule.type == RULE_TYPE_COMPOSITION:
        return Prepared(compiled, frozenset(ruleflow.referenced_rules(rule.document)), False)
    text = json.dumps(rule.document)
    by_value = '"SOLVE"' in text or "SOLVE(" in text
    return Prepared(compiled, frozenset(referenced_rules(rule.document)), by_value)


def version_key(rule: RuleVersion) -> VersionKey:
    return (rule.base_id, rule.version, rule.updated_at)


class CompiledRules:
    """The last ``capacity`` prepared rule versions, most recently used kept."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[VersionKey, Prepared] = OrderedDict()
        self.compiles = 0  # how many times a document was compiled (tests, metrics)

    def lookup(self, rule: RuleVersion) -> Prepared | None:
        key = version_key(rule)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, rule: RuleVersion, prepared: Prepared) -> None:
        self.compiles += 1
        self._entries[version_key(rule)] = prepared
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
