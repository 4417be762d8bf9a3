"""The Management API's rule operations (RuleService) on real SQLite and
PostgreSQL databases: create, get, update, status, new version, delete, list,
jobs that hold a version, and inputSchema checks at job start."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import JobState, NewJob, RuleStatus
from flowjobs.errors import (
    InvalidInputError,
    InvalidRuleError,
    InvalidVersionError,
    RuleExistsError,
    RuleNotFoundError,
    RuleVersionInUseError,
    RuleVersionNotFoundError,
)
from flowjobs.rules import RuleService
from support.env import Env, MakeEnv, flow

ECHO = [{"id": "done", "type": "end", "output": "input"}]
ORDER_SCHEMA = {
    "type": "object",
    "required": ["orderId", "items"],
    "properties": {
        "orderId": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "required": ["price"]}},
    },
}


def sdk_rule(name: str = "Echo", **fields: Any) -> dict[str, Any]:
    """A rule as the Java SDK sends it: every field of its model, null when unset."""
    body: dict[str, Any] = {
        "name": name,
        "description": None,
        "inputSchema": None,
        "outputSchema": None,
        "version": 0,
        "lastUpdate": 1764364980000,
        "createdIn": 1764364980000,
        "status": None,
        "baseId": None,
        "ruleId": None,
        "type": "integration-flow",
        "tags": None,
        "auditLog": None,
        "ruleAlias": None,
        "locked": None,
        "decisionTable": None,
        "nodes": ECHO,
        "workflowData": None,
        "selectedWebhookAliases": None,
    }
    return body | fields


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return await make_env(handler_prefixes=["support"])  # for the handler flow below


@pytest.fixture
def rules(env: Env) -> RuleService:
    return RuleService(env.catalog)


async def test_create_then_get_by_alias_id_and_version(env: Env, rules: RuleService) -> None:
    space, _ = await env.space_with_key("s")

    created = await rules.create(
        space.id, sdk_rule("Order Echo", tags=["a", "b"], inputSchema=ORDER_SCHEMA)
    )

    assert (created.alias, created.version, created.status) == ("order-echo", 1, RuleStatus.PENDING)
    by_alias = await rules.get(space.id, "order-echo", None)
    by_id = await rules.get(space.id, created.base_id, "1")
    latest = await rules.get(space.id, "order-echo", "latest")
    assert by_alias == by_id == latest
    assert by_alias.document == {
        "name": "Order Echo",
        "alias": "order-echo",
        "tags": ["a", "b"],
        "inputSchema": ORDER_SCHEMA,
        "nodes": ECHO,
    }
    assert by_alias.created_at is not None and by_alias.created_at == by_alias.updated_at
    with pytest.raises(RuleVersionNotFoundError):
        await rules.get(space.id, "order-echo", "2")
    with pytest.raises(InvalidVersionError):
        await rules.get(space.id, "order-echo", "0")


async def test_a_rule_of_another_space_is_not_found(env: Env, rules: RuleService) -> None:
    space, _ = await env.space_with_key("s")
    other, _ = await env.space_with_key("other")
    created = await rules.create(space.id, sdk_rule())

    for call in (
        rules.get(other.id, created.base_id, None),
        rules.update(other.id, "echo", None, {"description": "x"}),
        rules.set_status(other.id, "echo", RuleStatus.PUBLISHED, "1"),
        rules.new_version(other.id, "echo", {}),
        rules.delete(other.id, "echo", "1"),
    ):
        with pytest.raises(RuleNotFoundError):
            await call
    assert await rules.list_rules(other.id) == []


async def test_create_refuses_a_taken_alias_and_lists_every_problem(
    env: Env, rules: RuleService
) -> None:
    space, _ = await env.space_with_key("s")
    await rules.create(space.id, sdk_rule(ruleAlias="echo"))
    with pytest.raises(RuleExistsError):
        await rules.create(space.id, sdk_rule("Another", ruleAlias="echo"))

    bad = {
        "name": "Broken",
        "ruleAlias": "no spaces allowed",
        "type": "lookup-table",
        "status": "live",
        "tags": "one",
        "inputSchema": {"type": "objekt", "required": "x"},
        "outputSchema": 5,
        "nodes": [{"id": "a", "type": "wait", "seconds": -1}, {"id": "a", "type": "email"}],
    }
    with pytest.raises(InvalidRuleError) as caught:
        await rules.create(space.id, bad)

    problems = caught.value.problems
    assert caught.value.status == 400 and caught.value.code == "INVALID_RULE"
    for expected in (
        "type: must be one of integration-flow, decision-table",
        "status: must be 'pending' or 'published', got 'live'",
        "alias: letters, digits",
        "tags: must be a list of strings",
        "inputSchema.type: 'objekt' is not valid",
        "inputSchema.required: 'x' is not of type 'array'",
        "outputSchema: must be a JSON Schema",
        'nodes[0] (id "a"): seconds must not be negative',
        'nodes[1] (id "a"): duplicate node id "a"',
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    with pytest.raises(InvalidRuleError, match="must be a JSON object"):
        await rules.create(space.id, [1, 2])


async def test_update_lays_the_body_over_the_version(env: Env, rules: RuleService) -> None:
    space, _ = await env.space_with_key("s")
    created = await rules.create(
        space.id, sdk_rule(settings={"timeoutSeconds": 60}, tags=["t"], status="published")
    )

    updated = await rules.update(
        space.id,
        "echo",
        "1",
        sdk_rule(
            "Echo renamed",
            ruleAlias="ignored-alias",
            version=7,
            nodes=[{"id": "out", "type": "end", "output": '"changed"'}],
        ),
    )

    assert (updated.base_id, updated.alias, updated.version) == (created.base_id, "echo", 1)
    assert updated.status is RuleStatus.PUBLISHED  # no status in the body: kept
    stored = await rules.get(space.id, "echo", "1")
    assert stored.name == "Echo renamed"
    assert stored.document["settings"] == {"timeoutSeconds": 60}  # null in the body: kept
    assert stored.document["tags"] == ["t"]
    assert stored.document["nodes"] == [{"id": "out", "type": "end", "output": '"changed"'}]
    assert stored.updated_at is not None and stored.created_at is not None
    assert stored.updated_at > stored.created_at

    handler = await rules.update(space.id, "echo", None, {"handler": "support.handlers:double"})
    assert "nodes" not in handler.document and handler.document["handler"]
    with pytest.raises(InvalidRuleError, match="either nodes or a handler"):
        await rules.update(space.id, "echo", None, {"nodes": ECHO, "handler": "a.b:c"})


async def test_status_new_version_and_what_a_start_runs(env: Env, rules: RuleService) -> None:
    space, key = await env.space_with_key("s")
    await rules.create(space.id, sdk_rule())
    with pytest.raises(RuleVersionNotFoundError):  # pending: not startable
        await env.manager.start(key, "echo", None, {})

    published = await rules.set_status(space.id, "echo", RuleStatus.PUBLISHED, "1")
    assert published.status is RuleStatus.PUBLISHED
    assert (await env.manager.start(key, "echo", None, {})).version == 1

    second = await rules.new_version(
        space.id, "echo", sdk_rule("A new name is ignored", ruleAlias="other", description="v2")
    )
    third = await rules.new_version(space.id, "echo", {"status": "published"})

    assert (second.version, second.status, second.name) == (2, RuleStatus.PENDING, "Echo")
    assert second.alias == "echo" and second.document["description"] == "v2"
    assert third.version == 3 and third.document == second.document  # a copy of the highest
    assert (await env.manager.start(key, "echo", "latest", {})).version == 3
    await rules.set_status(space.id, "echo", RuleStatus.PENDING, None)
    assert (await env.manager.start(key, "echo", None, {})).version == 1


async def test_delete_is_refused_while_jobs_wait_and_the_last_version_takes_the_rule(
    env: Env, rules: RuleService
) -> None:
    space, key = await env.space_with_key("s")
    first = await rules.create(space.id, sdk_rule(status="published"))
    await rules.new_version(space.id, "echo", {})
    job = await env.manager.start(key, "echo", "1", {})

    with pytest.raises(RuleVersionInUseError) as caught:
        await rules.delete(space.id, "echo", "1")
    assert caught.value.status == 409
    with pytest.raises(RuleVersionInUseError):
        await rules.delete(space.id, "echo", None)  # every version: v1 has a job

    await env.manager.cancel(key, job.id)
    await rules.delete(space.id, "echo", "1")
    assert [v.version for v in await rules.list_rules(space.id)] == [2]
    await rules.delete(space.id, first.base_id, "2")
    with pytest.raises(RuleNotFoundError):
        await rules.get(space.id, "echo", None)
    assert await rules.list_rules(space.id) == []
    # the alias is free again
    assert (await rules.create(space.id, sdk_rule())).version == 1


async def test_a_start_racing_a_delete_never_leaves_an_orphan_job(
    env: Env, rules: RuleService
) -> None:
    """The start looked the version up before the delete; its insert finds the
    version gone in its own transaction and refuses."""
    space, key = await env.space_with_key("s")
    await rules.create(space.id, sdk_rule(status="published"))
    [version] = await env.store.find_rule_versions(space.id, "echo")
    await rules.delete(space.id, "echo", "1")
    new = NewJob(
        id=str(uuid.uuid4()),
        space=space,
        rule=version,
        correlation_id="c",
        input={},
        priority=0,
        environment_group="test",
        api_key=key,
        execution_limit_s=60,
    )

    with pytest.raises(RuleVersionNotFoundError):
        await env.store.insert_job(new, utcnow(), domain.INITIALIZED)


async def test_list_gives_every_version_by_alias(env: Env, rules: RuleService) -> None:
    space, _ = await env.space_with_key("s")
    await rules.create(space.id, sdk_rule("Zeta"))
    await rules.create(space.id, sdk_rule("Alpha", tags=["x"]))
    await rules.new_version(space.id, "zeta", {"status": "published"})
    await env.push(space, {"name": "Table", "type": "lookup-table"})

    listed = await rules.list_rules(space.id)

    assert [(r.alias, r.version, r.status, r.type) for r in listed] == [
        ("alpha", 1, RuleStatus.PENDING, "integration-flow"),
        ("table", 1, RuleStatus.PUBLISHED, "lookup-table"),
        ("zeta", 1, RuleStatus.PENDING, "integration-flow"),
        ("zeta", 2, RuleStatus.PUBLISHED, "integration-flow"),
    ]
    with pytest.raises(InvalidRuleError, match="cannot be changed here"):
        await rules.update(space.id, "table", None, {"description": "x"})


async def test_push_and_the_api_manage_the_same_rules(env: Env, rules: RuleService) -> None:
    space, _ = await env.space_with_key("s")
    pushed = await env.push(space, flow("pushed") | {"settings": {"timeoutSeconds": 5}})

    read = await rules.get(space.id, "pushed", None)
    assert read.document == pushed.document and read.status is RuleStatus.PUBLISHED

    created = await rules.create(space.id, sdk_rule("From API", ruleAlias="from-api"))
    document = dict(created.document) | {"description": "pushed later"}
    again = await env.catalog.push_rule(space.id, document, publish=True)
    assert (again.base_id, again.version) == (created.base_id, 2)


async def test_start_checks_the_input_against_the_input_schema(
    env: Env, rules: RuleService
) -> None:
    space, key = await env.space_with_key("s")
    await rules.create(space.id, sdk_rule(inputSchema=ORDER_SCHEMA, status="published"))

    job = await env.manager.start(key, "echo", None, {"orderId": "A1", "items": [{"price": 2}]})
    assert job.state is JobState.WAITING
    with pytest.raises(InvalidInputError) as caught:
        await env.manager.start(key, "echo", None, {"orderId": 7, "items": [{}, {"price": 1}]})
    assert caught.value.status == 400 and caught.value.code == "INVALID_INPUT"
    assert caught.value.problems == [
        "input.items[0]: 'price' is a required property",
        "input.orderId: 7 is not of type 'string'",
    ]

    # a new schema through PUT applies at once (the cached validator is replaced)
    await rules.update(space.id, "echo", None, {"inputSchema": {"type": "array"}})
    with pytest.raises(InvalidInputError, match="is not of type 'array'"):
        await env.manager.start(key, "echo", None, {"orderId": "A1", "items": []})
    assert (await env.manager.start(key, "echo", None, [1])).input == [1]


async def test_concurrent_new_versions_get_distinct_numbers(
    make_env: MakeEnv, rules: RuleService
) -> None:
    """Five callers, each with its own connection pool, add a version at once."""
    envs = [await make_env() for _ in range(5)]
    space, _ = await envs[0].space_with_key("s")
    await rules.create(space.id, sdk_rule())

    added = await asyncio.gather(
        *(RuleService(e.catalog).new_version(space.id, "echo", {}) for e in envs)
    )

    assert sorted(v.version for v in added) == [2, 3, 4, 5, 6]


async def test_starts_racing_deletes_never_leave_an_orphan_job(
    make_env: MakeEnv, rules: RuleService
) -> None:
    """Either the delete sees the job (409) or the start finds no version."""
    deleter, starter = await make_env(), await make_env()
    space, key = await deleter.space_with_key("s")
    for round_ in range(8):
        alias = f"race-{round_}"
        await rules.create(space.id, sdk_rule(ruleAlias=alias, status="published"))
        deleted, started = await asyncio.gather(
            RuleService(deleter.catalog).delete(space.id, alias, "1"),
            starter.manager.start(key, alias, None, {}),
            return_exceptions=True,
        )
        assert not isinstance(started, BaseException) or isinstance(
            started, RuleNotFoundError | RuleVersionNotFoundError
        ), started
        assert not isinstance(deleted, BaseException) or isinstance(
            deleted, RuleVersionInUseError
        ), deleted
        job_exists = not isinstance(started, BaseException)
        assert job_exists == isinstance(deleted, RuleVersionInUseError)
