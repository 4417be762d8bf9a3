"""Every problem of a decision-table document, each with its row and column."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flowjobs.decisions.ast import Call, Literal, Node, ObjectNode
from flowjobs.decisions.checks import references, walk_nodes
from flowjobs.decisions.compiler import CompiledRule, compile_table
from flowjobs.decisions.conditions import ConditionError, compile_condition
from flowjobs.decisions.outputs import OutputError, output_node
from flowjobs.decisions.parser import parse_ref
from flowjobs.decisions.problems import ExpressionError, RuleProblem
from flowjobs.decisions.table import Column, Table, read_table

DECISION_TABLE = "decision-table"


def validate_rule(document: Mapping[str, Any]) -> list[RuleProblem]:
    """Every problem of ``document`` at once; [] when it is valid."""
    return check_rule(document)[0]


def check_rule(document: Mapping[str, Any]) -> tuple[list[RuleProblem], CompiledRule | None]:
    """Every problem of ``document``, and its compiled form when it has none."""
    if not isinstance(document, Mapping):
        return [RuleProblem("the rule must be a JSON object")], None
    problems: list[RuleProblem] = []
    kind = document.get("type")
    if kind is not None and kind != DECISION_TABLE:
        problems.append(RuleProblem(f"type must be {DECISION_TABLE!r}, not {kind!r}"))
    table, read_problems = read_table(document)
    problems.extend(read_problems)
    compiled, cell_problems = compile_table(table)
    problems.extend(cell_problems)
    problems.extend(_variable_problems(document, table))
    return problems, None if problems else compiled


# -- variables the input schema does not have --------------------------------------------


def _variable_problems(document: Mapping[str, Any], table: Table) -> list[RuleProblem]:
    schema = document.get("inputSchema")
    if not isinstance(schema, Mapping) or not schema:
        return []  # no input model: any variable may come
    known = _names_besides_input(table)
    problems: list[RuleProblem] = []
    for column in table.columns:
        if column.kind == "input" and not _known(column.variable, schema, known):
            problems.append(RuleProblem(_unknown(column.variable), None, column.name))
    for row_number, column, node in _cell_nodes(table):
        bound = _bound_names(node)
        for ref in references(node):
            if ref.path and ref.path[0] in bound:
                continue
            if not _known(ref.text, schema, known):
                problems.append(RuleProblem(_unknown(ref.text), row_number, column.name))
    return problems


def _unknown(variable: str) -> str:
    return f"variable {{{variable}}} is not in the input schema, the rule variables or the columns"


def _names_besides_input(table: Table) -> set[str]:
    names = set(table.variables)
    for column in table.columns:
        if column.kind != "input":
            names.add(column.variable)
            names.add(column.variable.split(".")[0])
    return names


def _known(variable: str, schema: Mapping[str, Any], known: set[str]) -> bool:
    if variable in known:
        return True
    try:
        path = parse_ref(variable).path
    except ExpressionError:
        return False
    if str(path[0]) in known:
        return True
    return schema_has(schema, path)


def schema_has(schema: Mapping[str, Any], path: tuple[str | int, ...]) -> bool:
    """True when ``path`` can exist in data of ``schema`` (DecisionRules' model or JSON Schema)."""
    node: Any = schema
    for step in path:
        if isinstance(step, int) or (isinstance(step, str) and step.isdigit()):
            continue  # an index into an array: the array's item is described by the same node
        node = _child(node, step)
        if node is None:
            return False
        if node == {} or node is True:
            return True  # a leaf of any value: whatever lies deeper is allowed
    return True


def _child(node: Any, step: str) -> Any:
    if not isinstance(node, Mapping):
        return None
    if "properties" in node and isinstance(node["properties"], Mapping):
        found = node["properties"].get(step)
        if found is None and node.get("additionalProperties", True) is not False:
            return {}
        return found
    if node.get("type") == "array" and isinstance(node.get("items"), Mapping):
        return _child(node["items"], step)
    return node.get(step)


def _cell_nodes(table: Table) -> Iterator[tuple[int, Column, Node]]:
    """Every expression in every cell that compiles, with its row number and column."""
    for row in table.rows:
        for column in table.columns:
            cell = row.cells.get(column.column_id)
            if cell is None:
                continue
            try:
                if column.kind == "input":
                    yield from ((row.number, column, n) for n in compile_condition(cell).nodes)
                else:
                    yield row.number, column, output_node(cell)
            except (ConditionError, OutputError, ExpressionError):
                continue  # already reported by the compiler


def _bound_names(node: Node) -> set[str]:
    """Names bound by functions that take a custom function: ARRAY_FILTER(list, "item",
    LTE({item}, 5)) names ``item`` in a text argument and uses it inside another one."""
    names: set[str] = set()
    for current in walk_nodes(node):
        if not isinstance(current, Call):
            continue
        texts = {
            a.value for a in current.args if isinstance(a, Literal) and isinstance(a.value, str)
        }
        if not texts:
            continue
        for arg in current.args:
            names.update(str(r.path[0]) for r in references(arg) if r.path and r.path[0] in texts)
    return names


# -- rules called through SOLVE ---------------------------------------------------------


def referenced_rules(document: Mapping[str, Any]) -> set[tuple[str, int | None]]:
    """The rules the table calls through SOLVE with literal ids or aliases (and versions)."""
    table, _ = read_table(document)
    found: set[tuple[str, int | None]] = set()
    for _row, _column, node in _cell_nodes(table):
        for current in walk_nodes(node):
            if isinstance(current, Call) and current.name == "SOLVE" and current.args:
                target = current.args[0]
                if isinstance(target, Literal) and isinstance(target.value, str):
                    found.add((target.value, _literal_version(current.args[2:])))
    return found


def _literal_version(rest: tuple[Node, ...]) -> int | None:
    if not rest or not isinstance(rest[0], ObjectNode):
        return None
    for key, value in rest[0].items:
        if key == Literal("version") and isinstance(value, Literal):
            try:
                return int(str(value.value))
            except ValueError:
                return None
    return None


__all__ = ["check_rule", "referenced_rules", "schema_has", "validate_rule"]
