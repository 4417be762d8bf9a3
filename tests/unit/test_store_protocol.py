"""The Store protocol names what the services call on the store, and the
SQL store has all of it (mypy checks the signatures: store/sql.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from flowjobs.store import SqlStore, Store

SRC = Path(__file__).parents[2] / "src" / "flowjobs"
# Their ``store`` is something else (the webhook store; the engine's is the
# job store's roles) or the whole SqlStore they build and close (runtime,
# cli); the store itself is the implementation.
NOT_SERVICES = ("store", "engine", "webhooks", "api", "ui", "runtime.py", "cli.py", "client.py")
MEMBERS = {name for name in dir(Store) if not name.startswith("_")}


def _is_store(node: ast.expr) -> bool:
    """``store`` or ``self.store``: how the services name their store."""
    if isinstance(node, ast.Name):
        return node.id == "store"
    return isinstance(node, ast.Attribute) and node.attr == "store"


def _service_modules() -> list[Path]:
    return [
        path
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] not in NOT_SERVICES
    ]


def _store_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and _is_store(node.value)
    }


def test_the_protocol_names_every_store_method_the_services_use() -> None:
    used = {
        (path.relative_to(SRC).as_posix(), name)
        for path in _service_modules()
        for name in _store_calls(path)
    }
    assert used, "no service module calls the store: the scan is broken"
    assert {(module, name) for module, name in used if name not in MEMBERS} == set()


def test_the_sql_store_has_every_member_of_the_protocol() -> None:
    store = SqlStore("sqlite:///:memory:")  # engines connect on first use only
    assert {name for name in MEMBERS if not hasattr(store, name)} == set()
