"""The domain package keeps one import path: every public name of its modules
is re-exported by ``flowjobs.domain``, so no caller names a submodule."""

from __future__ import annotations

import ast
from pathlib import Path

import flowjobs.domain as domain
from flowjobs.config import Settings
from flowjobs.flowsettings import execution_limit, retries_on_loss

DOMAIN = Path(domain.__file__).parent


def _defined_names(path: Path) -> set[str]:
    """Classes, functions and constants a module defines at its top level."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_every_public_name_is_re_exported() -> None:
    defined = set()
    for path in DOMAIN.glob("*.py"):
        if path.name != "__init__.py":
            defined |= _defined_names(path)
    assert sorted(domain.__all__) == sorted(defined)
    assert all(hasattr(domain, name) for name in defined)


def test_domain_modules_import_nothing_else_of_flowjobs() -> None:
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("flowjobs.") or node.module.startswith(
                    "flowjobs.domain"
                ), f"{path.name} imports {node.module}"


def test_retries_on_loss_reads_a_whole_number_only() -> None:
    assert retries_on_loss({}) == 0
    assert retries_on_loss({"settings": {"retryOnWorkerLoss": 2}}) == 2
    for odd in (True, "2", 1.5, None):
        assert retries_on_loss({"settings": {"retryOnWorkerLoss": odd}}) == 0
    assert retries_on_loss({"settings": "not an object"}) == 0


def test_execution_limit_ignores_settings_that_are_not_an_object() -> None:
    settings = Settings(execution_limit_seconds=30)
    assert execution_limit(settings, {"settings": ["timeoutSeconds", 5]}) == 30
