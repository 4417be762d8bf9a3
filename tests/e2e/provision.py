"""Fresh spaces for tests that need exact counts or their own quota, provisioned
with the in-process CLI on a running server's database."""

from __future__ import annotations

import uuid

from support.processes import FLOWS, Tenant

from .conftest import PARALLEL_LIMIT, cli


def new_tenant(database_url: str, prefix: str, flows: tuple[str, ...], *space_args: str) -> Tenant:
    """A new space (``space create`` with ``space_args``), a Solver and a
    Management key, and ``flows`` pushed and published."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    limit = ("--parallel-limit", str(PARALLEL_LIMIT))
    space = cli(database_url, "space", "create", name, *limit, *space_args, "--json")
    key = cli(database_url, "key", "create", "--space", name, "--json")
    mkey = cli(database_url, "key", "create", "--space", name, "--kind", "management", "--json")
    tenant = Tenant(space["id"], key["key"], mkey["key"])
    for flow in flows:
        path = str(FLOWS / f"{flow}.yaml")
        rule = cli(database_url, "rule", "push", path, "--space", name, "--publish", "--json")
        tenant.rules[rule["ruleAlias"]] = rule
    return tenant
