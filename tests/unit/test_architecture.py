"""Keep the import arrows of docs/ARCHITECTURE.md true."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "flowjobs"

# part -> parts of flowjobs it may import (a part is a module or a subpackage)
ALLOWED = {
    "errors": set(),
    "ids": set(),
    "clock": set(),
    "events": set(),
    "ttlcache": set(),
    "domain": set(),
    "config": set(),
    "keys": {"domain"},
    "logs": set(),
    "ratelimit": set(),
    "schemas": {"domain"},
    "metrics": {"domain"},
    "watch": {"domain", "errors"},
    "inputschema": {"domain", "errors"},
    "jsoncheck": {"errors"},
    "versions": {"domain", "errors"},
    "cursor": {"domain", "errors", "ids"},
    "flowsettings": {"config"},
    "rulejson": {"domain", "inputschema"},
    "net": {"errors"},
    "engine": {"decisions", "errors", "net"},
    "decisions": {"errors"},
    "store": {"domain", "errors"},
    "idempotency": {"domain", "versions"},
    "leases": {"clock", "domain", "store"},
    "manager": {
        "clock",
        "config",
        "cursor",
        "domain",
        "errors",
        "events",
        "flowsettings",
        "ids",
        "idempotency",
        "inputschema",
        "jsoncheck",
        "leases",
        "metrics",
        "registry",
        "store",
        "ttlcache",
        "versions",
        "watch",
    },
    "registry": {"clock", "config", "domain", "store"},
    "flowsetup": {"config", "engine"},
    "catalog": {
        "clock",
        "config",
        "decisions",
        "domain",
        "engine",
        "errors",
        "flowsetup",
        "keys",
        "rulejson",
        "store",
        "ttlcache",
    },
    "ruleio": {"domain", "schemas"},
    "rules": {"catalog", "clock", "domain", "errors", "rulejson", "ruleio", "versions"},
    "solver": {"decisions", "domain", "errors", "store", "ttlcache", "versions"},
    "usage": {"clock", "domain", "errors", "store"},
    "webhooks": {"config", "domain", "errors", "keys", "net", "schemas", "store"},
    "worker": {
        "config",
        "domain",
        "engine",
        "errors",
        "flowsetup",
        "jsoncheck",
        "logs",
        "manager",
        "solver",
        "webhooks",
    },
    "runtime": {
        "catalog",
        "config",
        "errors",
        "events",
        "manager",
        "metrics",
        "rules",
        "solver",
        "store",
        "usage",
        "webhooks",
        "worker",
    },
    "api": {
        "catalog",
        "config",
        "domain",
        "errors",
        "jsoncheck",
        "manager",
        "metrics",
        "ratelimit",
        "rules",
        "runtime",
        "schemas",
        "solver",
        "ui",
        "usage",
        "webhooks",
    },
    "ui": {
        "catalog",
        "config",
        "domain",
        "errors",
        "manager",
        "rules",
        "runtime",
        "schemas",
        "usage",
        "webhooks",
    },
    "client": {"domain", "schemas"},
    "diagnose": {"errors", "logs"},
    "serving": set(),
    "cli": {
        "api",
        "catalog",
        "client",
        "config",
        "diagnose",
        "domain",
        "engine",
        "errors",
        "keys",
        "logs",
        "rules",
        "runtime",
        "schemas",
        "serving",
        "store",
        "webhooks",
    },
    "__main__": {"cli"},  # imported only when the server's packages are installed
    "__init__": set(),
}


def _part(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_parts(path: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "flowjobs" and len(pieces) > 1:
                parts.add(pieces[1])
    return parts


def test_imports_point_one_way() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        part = _part(path)
        assert part in ALLOWED, f"new part {part}: add it to ALLOWED and ARCHITECTURE.md"
        for imported in _imported_parts(path) - ALLOWED[part] - {part}:
            violations.append(f"{path.relative_to(SRC)} imports flowjobs.{imported}")
    assert violations == []
