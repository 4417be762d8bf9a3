"""A rule's ``inputSchema`` (JSON Schema): checked to be a schema when a flow is
pushed or created, and checked against every job's input when it is started.

A ``$ref`` resolves only inside the schema itself: nothing is ever fetched
over the network (an empty ``referencing`` registry, no retrieval).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from flowjobs.domain import RuleVersion
from flowjobs.errors import InvalidInputError

MAX_PROBLEMS = 100  # mismatches listed in one answer; the rest are counted
_MESSAGE_CHARS = 300
log = logging.getLogger("flowjobs.inputschema")


def _validator_class(schema: dict[str, Any] | bool) -> type[Validator]:
    """The draft the schema names in ``$schema``; 2020-12 when it names none."""
    return validator_for(schema, default=Draft202012Validator)


def _listed(field: str, errors: Iterable[ValidationError]) -> list[str]:
    """One line per error, ``field`` plus the JSON path where it is, at most
    MAX_PROBLEMS of them."""
    problems: list[str] = []
    for count, error in enumerate(sorted(errors, key=lambda e: e.json_path)):
        if count == MAX_PROBLEMS:
            problems.append(f"... and more problems after the first {MAX_PROBLEMS}")
            break
        message = error.message[:_MESSAGE_CHARS]
        problems.append(f"{field}{error.json_path[1:]}: {message}")
    return problems


def schema_problems(schema: Any, field: str = "inputSchema") -> list[str]:
    """Why ``schema`` is not a valid JSON Schema (empty if it is). An object
    such as DecisionRules' ``{"attribute": {}}`` is a valid schema that
    constrains nothing (unknown keywords are ignored)."""
    if not isinstance(schema, dict | bool):
        return [f"{field}: must be a JSON Schema (an object or a boolean)"]
    if isinstance(schema, dict) and not isinstance(schema.get("$schema", ""), str):
        return [f"{field}.$schema: must be a string"]
    cls = _validator_class(schema)
    # format_checker: a "pattern" must compile as a regular expression.
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    return _listed(field, meta.iter_errors(schema))


def input_problems(validator: Validator, input_data: Any) -> list[str]:
    """Every place where ``input_data`` does not match, with its path."""
    try:
        return _listed("input", validator.iter_errors(input_data))
    except Unresolvable as exc:
        return [
            f"inputSchema: cannot resolve the reference {exc.ref!r} (only refs inside the schema)"
        ]
    except re.error as exc:
        return [f"inputSchema: invalid pattern: {exc}"]


class InputSchemas:
    """Compiled validators per rule version, so that a start does not compile
    the schema again. A version's document can change (PUT), so an entry is
    only used while the version's ``updated_at`` is the one it was built from."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._cache: dict[tuple[str, int], tuple[datetime | None, Validator | None]] = {}

    def check(self, rule: RuleVersion, input_data: Any) -> None:
        """Raise InvalidInputError listing every mismatch of the input."""
        validator = self.validator(rule)
        if validator is None:
            return
        problems = input_problems(validator, input_data)
        if problems:
            raise InvalidInputError(problems)

    def validator(self, rule: RuleVersion) -> Validator | None:
        """The version's validator; None when it has no (valid) inputSchema."""
        key = (rule.base_id, rule.version)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == rule.updated_at:
            return cached[1]
        validator = self._compile(rule)
        if len(self._cache) >= self._max_entries:
            self._cache.pop(next(iter(self._cache)))  # the oldest entry
        self._cache[key] = (rule.updated_at, validator)
        return validator

    @staticmethod
    def _compile(rule: RuleVersion) -> Validator | None:
        schema = rule.document.get("inputSchema")
        if schema is None:
            return None
        problems = schema_problems(schema)
        if problems:
            # Stored before inputSchema was checked at push: it was ignored then,
            # and still is, rather than refusing every start of that version.
            log.warning(
                "invalid inputSchema ignored",
                extra={"baseId": rule.base_id, "version": rule.version, "problem": problems[0]},
            )
            return None
        return _validator_class(schema)(schema, registry=Registry())
