"""Reading flow documents from files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from flowjobs.errors import FlowValidationError

_YAML_SUFFIXES = (".yaml", ".yml")


def load_flow_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.json``, ``.yaml`` or ``.yml`` flow document.

    Raises :class:`FlowValidationError` if the file cannot be read or parsed,
    or does not hold a mapping.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix != ".json" and suffix not in _YAML_SUFFIXES:
        raise FlowValidationError(
            [f"{file}: unsupported file type {suffix or '(none)'!r}; use .json, .yaml or .yml"]
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowValidationError([f"{file}: cannot read the file: {exc}"]) from exc
    data = _parse(file, text, yaml_syntax=suffix in _YAML_SUFFIXES)
    if not isinstance(data, dict):
        raise FlowValidationError(
            [f"{file}: the flow document must be a mapping, not {_kind(data)}"]
        )
    return data


def _parse(file: Path, text: str, *, yaml_syntax: bool) -> Any:
    try:
        if yaml_syntax:
            return yaml.safe_load(text)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlowValidationError([f"{file}: invalid JSON: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise FlowValidationError([f"{file}: invalid YAML: {exc}"]) from exc
    except RecursionError as exc:
        raise FlowValidationError([f"{file}: nested too deep to be read"]) from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's limit)
        raise FlowValidationError([f"{file}: {too_long_integer()}"]) from exc


def too_long_integer() -> str:
    """What is wrong with a document whose integers Python will not read."""
    return f"an integer has more than {sys.get_int_max_str_digits()} digits (the most read)"


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
