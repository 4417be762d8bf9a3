"""load_flow_file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowjobs.engine import compile_flow, load_flow_file
from flowjobs.errors import FlowValidationError

DOCUMENT = {"name": "from file", "nodes": [{"id": "done", "type": "end", "output": "input"}]}


def test_loads_json(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    assert load_flow_file(path) == DOCUMENT


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_loads_yaml(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"flow{suffix}"
    path.write_text(
        "name: from file\nnodes:\n  - id: done\n    type: end\n    output: input\n",
        encoding="utf-8",
    )
    document = load_flow_file(str(path))
    assert document == DOCUMENT
    assert compile_flow(document).name == "from file"


def _load_problems(path: Path) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        load_flow_file(path)
    assert len(info.value.problems) == 1
    return info.value.problems


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text('{"name": ', encoding="utf-8")
    assert "invalid JSON" in _load_problems(path)[0]


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("name: [unclosed\nnodes: {", encoding="utf-8")
    assert "invalid YAML" in _load_problems(path)[0]


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("", "an empty document")])
def test_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    assert f"must be a mapping, not {kind}" in _load_problems(path)[0]


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in _load_problems(tmp_path / "absent.json")[0]


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "flow.txt"
    path.write_text("{}", encoding="utf-8")
    assert "unsupported file type '.txt'" in _load_problems(path)[0]
