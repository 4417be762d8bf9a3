"""Schema fuzzing: schemathesis against the server's own ``/openapi.json``.

A server of its own (SQLite, ``--no-worker``, on 127.0.0.1) with a seeded space:
a Solver key, a Management key, three published flows, waiting and canceled
jobs, a webhook. Every operation of the document is called with generated
requests, once per key variant (the right kind, the wrong kind, an unknown key,
none), and every answer is checked: no 5xx, the documented status, content type
and schema.

``FLOWJOBS_FUZZ_EXAMPLES`` sets the examples per operation and key variant
(default 3 here; ``make fuzz`` sets enough for 5,000+ requests). The exact
number of requests sent is printed at the end of the module.

Bounded on purpose:

* ``GET /job/{jobId}/events`` (an event stream open until the job ends, and no
  job ends on a server without a worker) is left out of the random run; its
  answers are fuzzed in ``test_event_stream_answers_are_documented`` with jobs
  that are already final or do not exist.
* ``wait`` is forced to ``0`` on ``GET /job/{jobId}``, so no request long-polls.
* Webhook URLs are replaced by a closed port on 127.0.0.1 (allowed through
  ``FLOWJOBS_WEBHOOK_ALLOW``): the server resolves and, for a test event,
  connects to nothing else. No worker runs, so no flow (``rest`` nodes) and
  no webhook dispatcher ever runs either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.processes import FLOWS, Proc, Tenant, flowjobs, free_port, serving

from .conftest import cli

EXAMPLES = int(os.environ.get("FLOWJOBS_FUZZ_EXAMPLES", "3"))
KEY_VARIANTS = ("right-kind", "wrong-kind", "unknown", "none")
UNBOUNDED = {("GET", "/job/{jobId}/events")}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEEDED_FLOWS = ("echo", "sleeper", "decision-table")


@dataclass
class FuzzServer:
    proc: Proc
    tenant: Tenant
    hook_url: str
    jobs: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.proc.base_url is not None
        return self.proc.base_url


@dataclass
class Counter:
    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)

    def add(self, label: str) -> None:
        self.requests += 1
        self.by_operation[label] = self.by_operation.get(label, 0) + 1


@pytest.fixture(scope="module")
def counter() -> Iterator[Counter]:
    count = Counter()
    yield count
    print(f"\nschemathesis: {count.requests} generated requests sent")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServer]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    flowjobs(url, "init")
    hook_url = f"http://127.0.0.1:{free_port()}/hook"  # closed: a test event fails at once
    env = {"FLOWJOBS_WEBHOOK_ALLOW": '["127.0.0.1"]', "FLOWJOBS_SECRET_KEY": _fernet_key()}
    with serving(url, tmp, worker=False, name="fuzz", extra_env=env) as proc:
        server = FuzzServer(proc, _seed(url), hook_url)
        _seed_jobs_and_webhook(server)
        yield server


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _seed(url: str) -> Tenant:
    """The space, its keys and flows, through the CLI run in this process (fast)."""
    space = cli(url, "space", "create", "fuzz", "--json")
    key = cli(url, "key", "create", "--space", "fuzz", "--json")
    mkey = cli(url, "key", "create", "--space", "fuzz", "--kind", "management", "--json")
    tenant = Tenant(space["id"], key["key"], mkey["key"])
    for flow in SEEDED_FLOWS:
        path = str(FLOWS / f"{flow}.yaml")
        rule = cli(url, "rule", "push", path, "--space", "fuzz", "--publish", "--json")
        tenant.rules[rule["ruleAlias"]] = rule
    return tenant


def _seed_jobs_and_webhook(server: FuzzServer) -> None:
    solver = {"Authorization": f"Bearer {server.tenant.key}"}
    management = {"Authorization": f"Bearer {server.tenant.management_key}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for index in range(4):
            response = http.post("/job/start/echo", headers=solver, json={"n": index})
            assert response.status_code == 200, response.text
            server.jobs.append(response.json()["jobId"])
        assert http.post(f"/job/cancel/{server.jobs[0]}", headers=solver).status_code == 200
        hook = {"url": server.hook_url, "alias": "seeded", "events": ["JOB.COMPLETED"]}
        response = http.post("/api/webhooks", headers=management, json=hook)
        assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def api_schema(fuzz_server: FuzzServer) -> Any:
    return schemathesis.openapi.from_url(fuzz_server.base_url + "/openapi.json")


def _key_for(server: FuzzServer, path: str, variant: str) -> str | None:
    management = path.startswith("/api/")
    right, wrong = server.tenant.key, server.tenant.management_key
    if management:
        right, wrong = wrong, right
    return {"right-kind": right, "wrong-kind": wrong, "unknown": "fjs_unknown-key"}.get(variant)


def _bound(case: Any, server: FuzzServer) -> None:
    """Keep a generated request finite and local (see the module docstring)."""
    if case.path == "/job/{jobId}" and case.query and "wait" in case.query:
        case.query["wait"] = 0
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = server.hook_url


def _fuzz_operation(
    operation: Any, server: FuzzServer, variant: str, counter: Counter, session: requests.Session
) -> None:
    key = _key_for(server, operation.path, variant)
    label = f"{operation.method.upper()} {operation.path}"

    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    def run(case: Any) -> None:
        _bound(case, server)
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        counter.add(label)
        case.call_and_validate(
            base_url=server.base_url, session=session, headers=headers, checks=CHECKS, timeout=10
        )

    run()


def _operations(schema: Any) -> list[Any]:
    ops = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in UNBOUNDED:
            ops.append(operation)
    return ops


@pytest.mark.parametrize("variant", KEY_VARIANTS)
def test_every_operation_answers_as_documented(
    api_schema: Any, fuzz_server: FuzzServer, counter: Counter, variant: str
) -> None:
    operations = _operations(api_schema)
    assert len(operations) >= 25
    before = counter.requests
    with requests.Session() as session:
        for operation in operations:
            _fuzz_operation(operation, fuzz_server, variant, counter, session)
    assert counter.requests - before >= len(operations)
