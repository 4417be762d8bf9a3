"""DecisionRules' export formats, read for import and written for export.
Pure: no I/O.

Three shapes come in (and go out):

* one rule: its document (``{"type": "decision-table", ...}``);
* a rule flow exported with the rules it uses: a JSON array, the rule flow
  (``type: composition``) and its tables (``Import-RuleFlow-example.json``);
* a folder export: ``{"export": {"exportType": "FOLDER", "data": {"structure":
  ..., "rules": [...]}}}`` (``import_folder_example.json``).

Imported rules get new ids, so a rule flow's references (``baseId`` in its
``dataTree``) are rewritten to the ids its tables got here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flowjobs.domain import RULE_TYPE_COMPOSITION, RULE_TYPE_FLOW, RuleVersion
from flowjobs.schemas import dr_rule_document

MAX_IMPORTED_RULES = 1000


class ExportFormatError(ValueError):
    """The file is none of DecisionRules' export formats."""


def exported_rules(exported: Any) -> list[dict[str, Any]]:
    """The rule documents of an export, in the order they can be imported:
    rule flows after the rules they use."""
    if isinstance(exported, Mapping) and isinstance(exported.get("export"), Mapping):
        data = exported["export"].get("data")
        rules = data.get("rules") if isinstance(data, Mapping) else None
    elif isinstance(exported, list):
        rules = exported
    elif isinstance(exported, Mapping):
        rules = [exported]
    else:
        rules = None
    if not isinstance(rules, list) or not rules:
        raise ExportFormatError(
            "expected a rule, a list of rules (a rule flow export) or a folder export "
            '({"export": {"data": {"rules": [...]}}})'
        )
    if len(rules) > MAX_IMPORTED_RULES:
        raise ExportFormatError(f"at most {MAX_IMPORTED_RULES} rules per import")
    bad = [index for index, rule in enumerate(rules) if not isinstance(rule, Mapping)]
    if bad:
        raise ExportFormatError(f"rules[{bad[0]}] is not an object")
    documents = [dict(rule) for rule in rules]
    return sorted(documents, key=lambda rule: rule.get("type") == RULE_TYPE_COMPOSITION)


def exported_id(document: Mapping[str, Any]) -> str | None:
    """The id a rule had where it was exported."""
    value = document.get("ruleId") or document.get("baseId")
    return value if isinstance(value, str) else None


def remap_rule_flow(document: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a rule flow whose ``dataTree`` names the rules by the ids
    they were given here (ids not in ``ids`` are kept)."""
    remapped = copy.deepcopy(dict(document))
    stack = [remapped.get("dataTree")]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("baseId"), str) and node["baseId"] in ids:
            node["baseId"] = ids[node["baseId"]]
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(children)
    return remapped


def referenced_ids(document: Mapping[str, Any]) -> list[str]:
    """The ids a rule flow's ``dataTree`` names, in tree order."""
    found: list[str] = []
    stack = [document.get("dataTree")]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get("baseId"), str) and node["baseId"] not in found:
            found.append(node["baseId"])
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(reversed(children))
    return found


def export_document(rule: RuleVersion) -> dict[str, Any]:
    """One rule as DecisionRules exports it (a flow: its flow document)."""
    if rule.type == RULE_TYPE_FLOW:
        return {**rule.document, "alias": rule.alias}
    return dr_rule_document(rule)


def export_with_rules(rule: RuleVersion, used: Sequence[RuleVersion]) -> list[dict[str, Any]]:
    """A rule flow exported with the rules it uses (a JSON array)."""
    return [export_document(rule), *(export_document(u) for u in used)]


def folder_export(name: str, rules: Sequence[RuleVersion]) -> dict[str, Any]:
    """Rules as one folder export (``flowjobs rule export`` of a whole space)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    children = [{"baseId": r.base_id, "type": "RULE", "version": r.version} for r in rules]
    return {
        "export": {
            "exportType": "FOLDER",
            "version": 1,
            "createdAt": now,
            "data": {
                "structure": {"name": name, "type": "FOLDER", "children": children},
                "rules": [export_document(rule) for rule in rules],
            },
        }
    }
