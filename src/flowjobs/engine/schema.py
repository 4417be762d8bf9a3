"""A JSON Schema (draft 2020-12) of flow documents, generated from the node models.

Each node type's fields come from its pydantic model
(``model_json_schema(by_alias=True)``). Pydantic cannot tell what an untyped
(``Any``) field or the values of a ``dict[str, Any]`` field hold, so those are
described in :data:`FIELD_KINDS`: a JSONata expression, a nested node list, and
so on. A model field that is untyped and not described there makes
:func:`flow_json_schema` raise, so a new node type cannot slip into the schema
with a field that accepts anything.

``flowjobs flow-schema`` prints the schema; ``docs/flow-schema.json`` is its
committed output.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from flowjobs.engine.compiler import INTEGRATION_FLOW, RESERVED_IDS
from flowjobs.engine.handlers import _REFERENCE as HANDLER_REFERENCE
from flowjobs.engine.nodes import NODE_TYPES
from flowjobs.engine.nodes.base import IDENTIFIER, Node

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# The rule alias as the catalog checks it at push (flowjobs.catalog._ALIAS; a
# test keeps the two equal: the engine does not import the catalog).
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"

_EXPRESSION = {"$ref": "#/$defs/expression"}
_NODE_LIST = {"$ref": "#/$defs/nodeList"}


def _expression_map(*, identifier_names: bool) -> dict[str, Any]:
    names: dict[str, Any] = {"minLength": 1}
    if identifier_names:
        names = {"pattern": IDENTIFIER.pattern}
    return {"type": "object", "propertyNames": names, "additionalProperties": _EXPRESSION}


_STATUS = {
    "anyOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "string", "pattern": r"^\s*([1-5][xX][xX]|[1-5][0-9][0-9])\s*$"},
    ]
}

# What pydantic cannot infer, by "<model class>.<field alias>". Each value
# replaces the field's generated schema (its description and default are kept).
FIELD_KINDS: dict[str, dict[str, Any]] = {
    "AssignNode.set": {**_expression_map(identifier_names=True), "minProperties": 1},
    "DeclareNode.vars": {**_expression_map(identifier_names=True), "minProperties": 1},
    "WaitNode.seconds": {
        "anyOf": [{"type": "number", "minimum": 0}, _EXPRESSION],
        "description": "seconds to wait: a number >= 0, or an expression giving one",
    },
    "FailNode.message": {**_EXPRESSION, "description": "the error message, as an expression"},
    "EndNode.output": {**_EXPRESSION, "description": "the flow's output (null if absent)"},
    "SwitchCase.when": {**_EXPRESSION, "description": "the case's condition"},
    "SwitchCase.nodes": _NODE_LIST,
    "SwitchNode.default": {**_NODE_LIST, "description": "runs when no case matched"},
    "ForeachNode.items": {**_EXPRESSION, "description": "an expression giving an array"},
    "ForeachNode.nodes": {**_NODE_LIST, "description": "the body, run once per item"},
    "ForeachNode.parallel": {
        "anyOf": [{"type": "integer", "minimum": 1}, _EXPRESSION],
        "description": "iterations run at once, 1 to the max_parallel limit (default 64)",
    },
    "ForeachNode.collect": {
        **_EXPRESSION,
        "description": "evaluated after each iteration (default: the last node's result)",
    },
    "LogNode.message": {**_EXPRESSION, "description": "non-string values are logged as JSON"},
    "DecisionTableNode.inputs": {**_expression_map(identifier_names=True), "minProperties": 1},
    "DecisionRule.when": {
        "type": "object",
        "description": "input name -> condition (see docs/flows.md#decisiontable)",
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
    },
    "DecisionRule.then": {
        "type": "object",
        "description": "literal JSON data: the node's result when the row matches",
    },
    "RestNode.method": {
        "type": "string",
        "minLength": 1,
        "description": "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS, or an expression",
    },
    "RestNode.url": {
        "type": "string",
        "minLength": 1,
        "description": "a literal http:// or https:// URL, or an expression giving one",
    },
    "RestNode.headers": {
        "anyOf": [_expression_map(identifier_names=False), _EXPRESSION, {"type": "null"}],
        "description": "name -> expression, or one expression giving an object",
    },
    "RestNode.query": {
        "anyOf": [_expression_map(identifier_names=False), _EXPRESSION, {"type": "null"}],
        "description": "name -> expression (an array value repeats the parameter), "
        "or one expression giving an object",
    },
    "RestNode.body": {
        **_EXPRESSION,
        "description": "a string is sent as text/plain, anything else as JSON",
    },
    "RestNode.expectStatus": {
        "anyOf": [_STATUS, {"type": "array", "minItems": 1, "items": _STATUS}],
        "description": 'accepted statuses: a code, a class like "2xx", or a list of them',
    },
    "SqlNode.query": {
        "type": "string",
        "minLength": 1,
        "description": "SQL with :name parameters (not an expression); \\: for a literal colon",
    },
    "SqlNode.params": {
        **_expression_map(identifier_names=True),
        "description": "parameter name -> expression; objects and arrays are bound as JSON text",
    },
    "SqlNode.batch": {
        **_EXPRESSION,
        "description": "an expression giving an array of parameter objects (implies execute)",
    },
    "CallNode.flow": {
        "type": "string",
        "minLength": 1,
        "description": "the called flow's alias or baseId, in the same space (literal)",
    },
    "CallNode.input": {**_EXPRESSION, "description": "the called flow's input"},
    "RuleNode.input": {
        **_EXPRESSION,
        "description": "the rule's input data: an object, or an array for a bulk solve",
    },
}

# Descriptions of the fields every node has (see flowjobs.engine.nodes.base.Node).
_COMMON_FIELDS = {
    "onError": 'on failure: goto "continue" (default) or a node id of the same list; '
    "as: a variable that receives {message, nodeId, type}",
    "timeout": "seconds; when passed, the node fails with error type NodeTimeout",
}

_TYPED_KEYS = frozenset({"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"})
_DOCSTRING_CODE = re.compile(r"``([^`]+)``")
_KEPT_FIELD_KEYS = ("default", "description")


class SchemaGenerationError(RuntimeError):
    """A node model has a field the schema generator does not know how to describe."""


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of a flow document, with one ``oneOf`` branch per
    registered node type (discriminated by ``type``)."""
    defs: dict[str, Any] = {
        "expression": {
            "type": "string",
            "minLength": 1,
            "description": "A JSONata expression (https://jsonata.org), parsed at push. It "
            "sees input, vars, job and the results of earlier nodes by id.",
        },
        "nodeList": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/node"},
            "description": "Nodes run in order. Node ids are unique in the whole document.",
        },
    }
    branches = []
    used: set[str] = set()
    types = sorted(NODE_TYPES)
    for node_type in types:
        cls = NODE_TYPES[node_type]
        _merge_defs(defs, cls.__name__, _node_schema(cls, defs, used))
        branches.append({"$ref": f"#/$defs/{cls.__name__}"})
    stale = sorted(FIELD_KINDS.keys() - used)
    if stale:
        raise SchemaGenerationError(f"FIELD_KINDS names fields no node model has: {stale}")
    defs["node"] = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {"type": {"enum": types}},
        "oneOf": branches,
        "description": "One node; its type selects its fields.",
    }
    return {
        "$schema": DRAFT,
        "title": "flowjobs flow document",
        "description": "An integration flow: a list of nodes, or a Python handler. "
        "See docs/flows.md. Generated by `flowjobs flow-schema`.",
        "type": "object",
        "required": ["name"],
        "properties": _top_level_properties(),
        "additionalProperties": True,
        "if": {"properties": {"type": {"const": INTEGRATION_FLOW}}},
        "then": {"oneOf": [{"required": ["nodes"]}, {"required": ["handler"]}]},
        "$defs": defs,
    }


def flow_json_schema_text() -> str:
    """The schema as committed in ``docs/flow-schema.json``: indented, keys
    sorted, with a trailing newline."""
    return json.dumps(flow_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _top_level_properties() -> dict[str, Any]:
    return {
        "name": {"type": "string", "minLength": 1, "description": "the rule's name"},
        "alias": {
            "type": ["string", "null"],
            "pattern": ALIAS_PATTERN,
            "description": "the identifier in /job/start/{alias} (default: the name as a slug)",
        },
        "type": {
            "type": "string",
            "default": INTEGRATION_FLOW,
            "description": f"only {INTEGRATION_FLOW} rules can run as jobs",
        },
        "description": {"type": ["string", "null"]},
        "settings": {
            "type": ["object", "null"],
            "properties": {
                "timeoutSeconds": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "the job's execution limit in seconds (only lowers "
                    "FLOWJOBS_EXECUTION_LIMIT_SECONDS)",
                }
            },
            "additionalProperties": True,
        },
        "nodes": {**_NODE_LIST, "description": "the flow's nodes (or give handler)"},
        "handler": {
            "type": "string",
            "pattern": HANDLER_REFERENCE.pattern,
            "description": '"package.module:function", a Python function that is the whole '
            "flow (or give nodes); the module must be under FLOWJOBS_HANDLER_PREFIXES",
        },
    }


def _node_schema(cls: type[Node], defs: dict[str, Any], used: set[str]) -> dict[str, Any]:
    schema = cls.model_json_schema(by_alias=True)
    for name, nested in schema.pop("$defs", {}).items():
        _merge_defs(defs, name, _model_schema(name, nested, used))
    schema = _model_schema(cls.__name__, schema, used)
    properties = schema["properties"]
    properties["type"] = {"const": cls.node_type}
    properties["id"] = {
        "type": "string",
        "pattern": IDENTIFIER.pattern,
        "not": {"enum": sorted(RESERVED_IDS)},
        "description": "unique in the document; later expressions read the result by it",
    }
    for field, description in _COMMON_FIELDS.items():
        if field in properties:
            properties[field]["description"] = description
    return schema


def _model_schema(model_name: str, schema: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """Clean one model's generated schema and apply :data:`FIELD_KINDS`."""
    schema = _strip_titles(schema)
    if "description" in schema:
        schema["description"] = _DOCSTRING_CODE.sub(r"`\1`", schema["description"])
    properties = schema.get("properties", {})
    for field, generated in properties.items():
        key = f"{model_name}.{field}"
        kind = FIELD_KINDS.get(key)
        if kind is not None:
            used.add(key)
            kept = {key: generated[key] for key in _KEPT_FIELD_KEYS if key in generated}
            properties[field] = {**kept, **copy.deepcopy(kind)}
        elif _is_loose(generated):
            raise SchemaGenerationError(
                f"{model_name}.{field} accepts any value; describe it in "
                "flowjobs.engine.schema.FIELD_KINDS"
            )
    return schema


def _is_loose(schema: Mapping[str, Any]) -> bool:
    """Whether a generated field schema accepts anything, or objects of anything."""
    if not _TYPED_KEYS & schema.keys():
        return True
    if schema.get("additionalProperties") is True:
        return True
    return any(_is_loose(branch) for branch in schema.get("anyOf", ()))


def _strip_titles(value: Any) -> Any:
    """Drop pydantic's generated titles (``Requesttimeout``), recursively; a
    property that happens to be called ``title`` is kept."""
    if isinstance(value, list):
        return [_strip_titles(item) for item in value]
    if not isinstance(value, dict):
        return value
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if key == "title" and isinstance(item, str):
            continue
        if key == "properties":
            cleaned[key] = {name: _strip_titles(sub) for name, sub in item.items()}
        else:
            cleaned[key] = _strip_titles(item)
    return cleaned


def _merge_defs(defs: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    existing = defs.setdefault(name, schema)
    if existing != schema:
        raise SchemaGenerationError(f"two different models are both named {name!r}")
