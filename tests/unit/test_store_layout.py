"""The store's layers: a Database under per-concern parts, and the SqlStore
facade over them (docs/ARCHITECTURE.md, store row)."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).parents[2] / "src" / "flowjobs" / "store"
# What the parts stand on: nothing of them may import a part or the facade.
FOUNDATION = {"database", "engines", "rows", "tables", "outbox", "claim"}
# Built on the facade: the webhook store (its callers hand it the SqlStore)
# and the exposure check (runtime hands it the SqlStore).
ON_THE_FACADE = {"webhooks", "exposure", "__init__"}
PARTS = {"catalog", "jobs", "job_queries", "claims", "endings", "usage", "workers", "audits"}


def _store_imports(module: str) -> set[str]:
    tree = ast.parse((STORE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "flowjobs.store":
            # ``from flowjobs.store import SqlStore`` is the facade too
            found |= {"sql" if a.name == "SqlStore" else a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flowjobs.store."):
            found.add((node.module or "").split(".")[2])
    return found


def test_only_the_facade_and_its_users_import_the_facade() -> None:
    modules = {path.stem for path in STORE.glob("*.py")}
    importers = {m for m in modules if "sql" in _store_imports(m)}
    assert importers <= ON_THE_FACADE


def test_the_foundation_imports_no_part() -> None:
    assert {m: _store_imports(m) & PARTS for m in FOUNDATION} == {m: set() for m in FOUNDATION}


def test_the_parts_hold_no_engine_of_their_own() -> None:
    """Parts reach the database through Database's public read/write."""
    for part in PARTS:
        text = (STORE / f"{part}.py").read_text(encoding="utf-8")
        assert "create_async_engine" not in text and "make_engine" not in text, part
