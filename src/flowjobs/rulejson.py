"""The rule JSON of the DecisionRules Management API, mapped onto flowjobs'
flow documents. Pure: no I/O.

A body is laid over a document: each field flowjobs knows replaces the
document's, a field that is missing or ``null`` leaves it as it is (the Java
SDK sends every field of its model, ``null`` when unset), and every other field
(``ruleId``, ``version``, ``createdIn``, ``auditLog``, ``workflowData``, ...)
is ignored. The answer is built by :class:`flowjobs.schemas.Rule`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowjobs.domain import RULE_TYPE_COMPOSITION, RULE_TYPE_FLOW, RULE_TYPE_TABLE, RuleStatus
from flowjobs.inputschema import schema_problems

# Fields of the body stored in the document as they are.
COPIED_FIELDS = ("description", "settings", "tags", "inputSchema", "outputSchema")
# The flow itself: one of them, and a body that gives one replaces both.
FLOW_FIELDS = ("nodes", "handler")
STATUSES = tuple(s.value for s in RuleStatus)
# DecisionRules' own rule types, stored as DecisionRules exports them.
DR_TYPES = (RULE_TYPE_TABLE, RULE_TYPE_COMPOSITION)
# Fields the server sets on a DecisionRules rule (answered by GET, ignored in
# a body; ``status`` is read from the body as the operation allows).
DR_SERVER_FIELDS = frozenset(
    {"ruleId", "baseId", "version", "status", "createdIn", "lastUpdate", "_id", "compositionId"}
)


@dataclass(frozen=True)
class RuleChange:
    """A document with a body laid over it, the status the body asks for, and
    the problems of the body's own fields (the flow is checked by the catalog)."""

    document: dict[str, Any]
    status: RuleStatus | None = None
    problems: list[str] = field(default_factory=list)


def apply_rule_json(
    body: Any,
    base: Mapping[str, Any] | None = None,
    *,
    rename: bool = True,
    set_alias: bool = False,
) -> RuleChange:
    """Lay ``body`` over a copy of ``base``. ``rename``: the body may change the
    name. ``set_alias``: the body's ``ruleAlias`` (or ``alias``) is taken, which
    only a create does; updates and new versions keep the rule's alias."""
    if not isinstance(body, dict):
        return RuleChange({}, problems=["the rule must be a JSON object"])
    if is_dr_rule(body) or is_dr_rule(base):
        return _apply_dr_rule_json(body, base, rename=rename, set_alias=set_alias)
    given = {key: value for key, value in body.items() if value is not None}
    document = copy.deepcopy(dict(base or {}))
    if rename and "name" in given:
        document["name"] = given["name"]
    alias = given.get("ruleAlias", given.get("alias"))
    if set_alias and alias is not None:
        document["alias"] = alias
    document.update({key: given[key] for key in COPIED_FIELDS if key in given})
    if any(key in given for key in FLOW_FIELDS):
        for key in FLOW_FIELDS:
            document.pop(key, None)
        document.update({key: given[key] for key in FLOW_FIELDS if key in given})
    status, problems = _status(given)
    return RuleChange(document, status, _type_problems(given) + problems)


def is_dr_rule(document: Any) -> bool:
    """A DecisionRules decision table or rule flow (not a flowjobs flow)."""
    return isinstance(document, Mapping) and document.get("type") in DR_TYPES


def dr_document(body: Mapping[str, Any]) -> dict[str, Any]:
    """A DecisionRules rule as stored: the body without the server's fields
    and without ``null`` fields (the alias is kept as ``ruleAlias``)."""
    document = {
        key: copy.deepcopy(value)
        for key, value in body.items()
        if value is not None and key not in DR_SERVER_FIELDS and key != "alias"
    }
    alias = body.get("ruleAlias", body.get("alias"))
    if alias is not None:
        document["ruleAlias"] = alias
    return document


def _apply_dr_rule_json(
    body: Mapping[str, Any], base: Mapping[str, Any] | None, *, rename: bool, set_alias: bool
) -> RuleChange:
    """A DecisionRules rule: every field of the body replaces the stored one
    (``decisionTable``, ``userVariables``, ``inputSchema``, ...), but the
    server's fields, the type, and (unless allowed) the name and alias stay."""
    given = dr_document(body)
    problems: list[str] = []
    if base is not None and given.get("type", base.get("type")) != base.get("type"):
        kind = str(given.get("type"))[:40]
        problems.append(f"type: a {base.get('type')} cannot become a {kind!r}")
    document = copy.deepcopy(dict(base or {}))
    for key, value in given.items():
        if (key == "name" and not rename) or (key == "ruleAlias" and not set_alias):
            continue
        document[key] = value
    status, status_problems = _status(body)
    return RuleChange(document, status, problems + status_problems)


def _status(given: Mapping[str, Any]) -> tuple[RuleStatus | None, list[str]]:
    value = given.get("status")
    if value is None:
        return None, []
    if value not in STATUSES:
        return None, [f"status: must be 'pending' or 'published', got {str(value)[:40]!r}"]
    return RuleStatus(value), []


def _type_problems(given: Mapping[str, Any]) -> list[str]:
    kind = given.get("type", RULE_TYPE_FLOW)
    if kind == RULE_TYPE_FLOW:
        return []
    known = ", ".join((RULE_TYPE_FLOW, *DR_TYPES))
    return [f"type: must be one of {known}, got {str(kind)[:40]!r}"]


def metadata_problems(document: Mapping[str, Any]) -> list[str]:
    """Problems of the rule fields a flow document may carry besides the flow:
    ``tags``, ``inputSchema`` and ``outputSchema`` (checked at push and create)."""
    problems: list[str] = []
    tags = document.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append("tags: must be a list of strings")
    if document.get("inputSchema") is not None:
        problems += schema_problems(document["inputSchema"])
    output_schema = document.get("outputSchema")
    if output_schema is not None and not isinstance(output_schema, dict | bool):
        problems.append("outputSchema: must be a JSON Schema (an object or a boolean)")
    return problems


def json_problems(document: Any, limit: int = 20) -> list[str]:
    """Values that JSON cannot hold (YAML dates, binary, ``.nan``, ``.inf``)
    and texts that no database holds (a NUL, a lone surrogate), each with its
    path: stored as they are, they would fail in the database."""
    problems: list[str] = []
    for problem in _non_json(document, ""):
        problems.append(problem)
        if len(problems) == limit:
            break
    return problems


# Characters no database column of flowjobs holds: NUL (PostgreSQL refuses it)
# and lone surrogates (not UTF-8); jsoncheck.py refuses them in job data.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _non_json(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = _UNSTORABLE.sub("\ufffd", str(key))
            inner = f"{path}.{name}" if path else name
            if isinstance(key, str) and _UNSTORABLE.search(key):
                yield f"{inner}: the name holds {_character(key)}, which cannot be stored"
            yield from _non_json(item, inner)
    elif isinstance(value, str):
        if _UNSTORABLE.search(value):
            yield f"{path or 'document'}: holds {_character(value)}, which cannot be stored"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_json(item, f"{path}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        yield f"{path or 'document'}: {value} is not a JSON number"
    elif not (value is None or isinstance(value, str | int | float)):
        kind = type(value).__name__
        yield f"{path or 'document'}: a {kind} is not a JSON value (quote it in YAML: '{value}')"


def _character(text: str) -> str:
    found = _UNSTORABLE.search(text)
    if found is not None and found.group() == "\x00":
        return "a NUL character (U+0000)"
    return "a lone surrogate"
