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

* ``GET /job/{jobId}/events`` stays open until its job ends, and no job ends on
  a server without a worker; generated job ids never name a seeded job, so
  every generated stream request answers at once (404 or 4xx). Its 200 is
  provoked in ``test_every_documented_status_is_reachable`` on a canceled job.
* ``wait`` is forced to ``0`` on ``GET /job/{jobId}``, so no request long-polls.
* Webhook URLs are replaced by a closed port on 127.0.0.1 (allowed through
  ``FLOWJOBS_WEBHOOK_ALLOW``): the server resolves and, for a test event,
  connects to nothing else. No worker runs, so no flow (``rest`` nodes) and
  no webhook dispatcher ever runs either.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
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

from support.processes import FLOWS, Proc, Tenant, flowjobs, free_port, serving, wait_for

from .conftest import cli

EXAMPLES = int(os.environ.get("FLOWJOBS_FUZZ_EXAMPLES", "3"))
KEY_VARIANTS = ("right-kind", "wrong-kind", "unknown", "none")
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
    slow_hook: str = ""
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
    env = {
        "FLOWJOBS_WEBHOOK_ALLOW": '["127.0.0.1"]',
        "FLOWJOBS_SECRET_KEY": _fernet_key(),
        "FLOWJOBS_WEBHOOK_TIMEOUT_SECONDS": "1.5",
        "FLOWJOBS_MAX_WAITERS": "1",  # so that a second waiter is refused (429)
    }
    # Connections to it are queued by the kernel and never answered: a send hangs
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with serving(url, tmp, worker=False, name="fuzz", extra_env=env) as proc:
            server = FuzzServer(proc, _seed(url), hook_url)
            _seed_jobs_and_webhooks(server, silent_url)
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


def _seed_jobs_and_webhooks(server: FuzzServer, silent_url: str) -> None:
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
        assert response.status_code == 201, response.text
        slow = {"url": silent_url, "alias": "slow", "events": ["JOB.COMPLETED"]}
        response = http.post("/api/webhooks", headers=management, json=slow)
        assert response.status_code == 201, response.text
        server.slow_hook = response.json()["id"]


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
    return [result.ok() for result in schema.get_all_operations()]


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


# ---- every documented status is reachable ------------------------------------------------

Provoke = Callable[["Caller"], httpx.Response]
ELSEWHERE: dict[tuple[str, str, str], str] = {
    # statuses that need a setup of their own, provoked by these tests
    (
        "POST",
        "/job/start/{identifier}",
        "402",
    ): "test_usage_api.py::test_start_answers_402_once_the_quota_is_used_up",
    (
        "POST",
        "/job/start/{identifier}/{version}",
        "402",
    ): "test_client.py::test_quota_exceeded_is_its_own_error",
    (
        "POST",
        "/job/cancel/{jobId}",
        "409",
    ): "test_cancel.py::test_cancel_of_a_finished_job_is_a_conflict",
    ("GET", "/readyz", "503"): "test_readiness.py::test_a_worker_serves_metrics_and_readiness",
    (
        "POST",
        "/job/start/{identifier}",
        "429",
    ): "test_abuse_limits.py::test_start_rate_and_waiting_cap",
    (
        "POST",
        "/job/start/{identifier}/{version}",
        "429",
    ): "test_abuse_limits.py::test_start_rate_and_waiting_cap",
    ("POST", "/job/rerun/{jobId}", "429"): "test_abuse_limits.py::test_start_rate_and_waiting_cap",
    (
        "POST",
        "/job/rerun/{jobId}",
        "402",
    ): "test_usage_api.py::test_start_answers_402_once_the_quota_is_used_up",
    (
        "GET",
        "/metrics",
        "401",
    ): "../unit/test_jobs_api_helpers.py::test_metrics_token_is_checked_only_when_set",
    (
        "POST",
        "/api/webhooks/{webhookId}/test",
        "503",
    ): "test_webhooks.py::test_without_a_secret_key_webhooks_answer_503",
}


@dataclass
class Caller:
    http: httpx.Client
    server: FuzzServer

    def solver(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._call(self.server.tenant.key, method, path, **kw)

    def manager(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._call(self.server.tenant.management_key, method, path, **kw)

    def _call(self, key: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **kw.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kw)

    def new_job(self) -> str:
        response = self.solver("POST", "/job/start/echo")
        assert response.status_code == 200, response.text
        return str(response.json()["jobId"])

    def new_rule(self) -> str:
        alias = f"r-{uuid.uuid4().hex[:8]}"
        assert self.manager("POST", "/api/rule", json=_flow(alias)).status_code == 201
        return alias


def _flow(alias: str, **fields: Any) -> dict[str, Any]:
    return {"name": alias, "alias": alias, "nodes": [{"id": "e", "type": "end"}], **fields}


NO_SUCH = "6f1e2d3c-0000-4000-8000-000000000000"
BIG = b" " * (1024 * 1024 + 1)


def _reused_idempotency_key(c: Caller, path: str) -> httpx.Response:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert c.solver("POST", path, json={"a": 1}, headers=key).status_code == 200
    return c.solver("POST", path, json={"a": 2}, headers=key)


def _second_waiter(c: Caller, path: str) -> httpx.Response:
    """With FLOWJOBS_MAX_WAITERS=1: a long-poll holds the one place, the next is 429."""
    holder, probe = c.new_job(), c.new_job()
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(c.solver, "GET", f"/job/{holder}", params={"wait": 3})
        time.sleep(0.5)  # the holder subscribes first; a probe let in would take its place
        second = wait_for(lambda: _refused(c, path.format(job=probe)), timeout=3, interval=0.1)
        holding.result()
    return second


def _refused(c: Caller, path: str) -> httpx.Response | None:
    """The answer if it is 429; a stream or long-poll that was let in is closed at once."""
    params = {"wait": 0.01} if not path.endswith("/events") else None
    headers = {"Authorization": f"Bearer {c.server.tenant.key}"}
    with c.http.stream("GET", path, params=params, headers=headers) as response:
        if response.status_code == 429:
            response.read()
            return response
    return None


def _redeliver_in_flight(c: Caller) -> httpx.Response:
    """A test event to a port that never answers is in flight: redeliver is 409."""
    hook = c.server.slow_hook
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(c.manager, "POST", f"/api/webhooks/{hook}/test")
        delivery = wait_for(lambda: _first_delivery(c, hook), timeout=3, interval=0.05)
        answer = c.manager("POST", f"/api/webhooks/deliveries/{delivery}/redeliver")
        sending.result()
    return answer


def _first_delivery(c: Caller, hook: str) -> str | None:
    found = c.manager("GET", f"/api/webhooks/{hook}/deliveries").json()
    return str(found[0]["deliveryId"]) if found else None


def _test_delivery(c: Caller) -> str:
    sent = c.manager("POST", "/api/webhooks/seeded/test")
    assert sent.status_code == 200, sent.text
    return str(sent.json()["deliveryId"])


def _start_cases(path: str) -> dict[str, Provoke]:
    return {
        "200": lambda c: c.solver("POST", path),
        "400": lambda c: c.solver("POST", path, params={"priority": 11}),
        "404": lambda c: c.solver("POST", path.replace("echo", "no-such-rule")),
        "413": lambda c: c.solver("POST", path, content=BIG),
        "422": lambda c: _reused_idempotency_key(c, path),
    }


R = "/api/rule"
W = "/api/webhooks"
S = "/rule/solve"
TABLE = "not-a-flow"  # tests/support/flows/decision-table.yaml, a decision table
PROVOKE: dict[tuple[str, str], dict[str, Provoke]] = {
    ("POST", "/job/start/{identifier}"): _start_cases("/job/start/echo"),
    ("POST", "/job/start/{identifier}/{version}"): {
        **_start_cases("/job/start/echo/1"),
        "400": lambda c: c.solver("POST", "/job/start/echo/v2"),
    },
    ("POST", "/job/rerun/{jobId}"): {
        "200": lambda c: c.solver("POST", f"/job/rerun/{c.server.jobs[0]}"),
        "400": lambda c: c.solver(
            "POST", f"/job/rerun/{c.server.jobs[0]}", headers={"X-Correlation-Id": "c" * 201}
        ),
        "404": lambda c: c.solver("POST", f"/job/rerun/{NO_SUCH}"),
        "409": lambda c: c.solver("POST", f"/job/rerun/{c.new_job()}"),
    },
    ("GET", "/job"): {
        "200": lambda c: c.solver("GET", "/job"),
        "400": lambda c: c.solver("GET", "/job", params={"limit": 0}),
        "404": lambda c: c.solver("GET", "/job", params={"rule": "no-such-rule"}),
    },
    ("POST", "/job/cancel/{jobId}"): {
        "200": lambda c: c.solver("POST", f"/job/cancel/{c.new_job()}"),
        "404": lambda c: c.solver("POST", f"/job/cancel/{NO_SUCH}"),
    },
    ("POST", "/job/cancelAll/space/{spaceId}"): {
        "200": lambda c: c.solver("POST", f"/job/cancelAll/space/{c.server.tenant.space_id}"),
        "400": lambda c: c.solver(
            "POST", f"/job/cancelAll/space/{c.server.tenant.space_id}", params={"running": "x"}
        ),
    },
    ("POST", "/job/cancelAll/rule/{identifier}/{version}"): {
        "200": lambda c: c.solver("POST", "/job/cancelAll/rule/sleeper/latest"),
        "400": lambda c: c.solver("POST", "/job/cancelAll/rule/sleeper/v2"),
        "404": lambda c: c.solver("POST", "/job/cancelAll/rule/no-such-rule/1"),
    },
    ("GET", "/job/{jobId}/trace"): {
        "200": lambda c: c.solver("GET", f"/job/{c.server.jobs[1]}/trace"),
        "404": lambda c: c.solver("GET", f"/job/{NO_SUCH}/trace"),
    },
    ("GET", "/job/{jobId}/logs"): {
        "200": lambda c: c.solver("GET", f"/job/{c.server.jobs[1]}/logs"),
        "404": lambda c: c.solver("GET", f"/job/{NO_SUCH}/logs"),
    },
    ("GET", "/job/{jobId}/events"): {
        "200": lambda c: c.solver("GET", f"/job/{c.server.jobs[0]}/events"),  # final: ends
        "404": lambda c: c.solver("GET", f"/job/{NO_SUCH}/events"),
        "429": lambda c: _second_waiter(c, "/job/{job}/events"),
    },
    ("GET", "/job/{jobId}"): {
        "200": lambda c: c.solver("GET", f"/job/{c.server.jobs[1]}"),
        "400": lambda c: c.solver("GET", f"/job/{c.server.jobs[1]}", params={"wait": 61}),
        "404": lambda c: c.solver("GET", f"/job/{NO_SUCH}"),
        "429": lambda c: _second_waiter(c, "/job/{job}"),
    },
    ("POST", f"{R}/validate"): {
        "200": lambda c: c.manager("POST", f"{R}/validate", json=_flow("v")),
        "400": lambda c: c.manager("POST", f"{R}/validate", content=b"{nope"),
        "413": lambda c: c.manager("POST", f"{R}/validate", content=BIG),
    },
    ("POST", R): {
        "201": lambda c: c.manager("POST", R, json=_flow(f"n-{uuid.uuid4().hex[:8]}")),
        "400": lambda c: c.manager("POST", R, json={"nodes": 1}),
        "409": lambda c: c.manager("POST", R, json=_flow("echo")),
        "413": lambda c: c.manager("POST", R, content=BIG),
    },
    ("GET", f"{R}/{{identifier}}"): {
        "200": lambda c: c.manager("GET", f"{R}/echo"),
        "404": lambda c: c.manager("GET", f"{R}/no-such-rule"),
    },
    ("PUT", f"{R}/{{identifier}}"): {
        "200": lambda c: c.manager("PUT", f"{R}/{c.new_rule()}", json={"description": "d"}),
        "400": lambda c: c.manager("PUT", f"{R}/echo", json={"nodes": 1}),
        "404": lambda c: c.manager("PUT", f"{R}/no-such-rule", json={"description": "d"}),
        "413": lambda c: c.manager("PUT", f"{R}/echo", content=BIG),
    },
    ("DELETE", f"{R}/{{identifier}}"): {
        "204": lambda c: c.manager("DELETE", f"{R}/{c.new_rule()}"),
        "404": lambda c: c.manager("DELETE", f"{R}/no-such-rule"),
        "409": lambda c: c.manager("DELETE", f"{R}/echo"),  # the seeded jobs wait for it
    },
    ("GET", f"{R}/{{identifier}}/{{version}}"): {
        "200": lambda c: c.manager("GET", f"{R}/echo/1"),
        "400": lambda c: c.manager("GET", f"{R}/echo/v2"),
        "404": lambda c: c.manager("GET", f"{R}/echo/9"),
    },
    ("PUT", f"{R}/{{identifier}}/{{version}}"): {
        "200": lambda c: c.manager("PUT", f"{R}/{c.new_rule()}/1", json={"description": "d"}),
        "400": lambda c: c.manager("PUT", f"{R}/echo/v2", json={"description": "d"}),
        "404": lambda c: c.manager("PUT", f"{R}/echo/9", json={"description": "d"}),
        "413": lambda c: c.manager("PUT", f"{R}/echo/1", content=BIG),
    },
    ("DELETE", f"{R}/{{identifier}}/{{version}}"): {
        "204": lambda c: c.manager("DELETE", f"{R}/{c.new_rule()}/1"),
        "400": lambda c: c.manager("DELETE", f"{R}/echo/v2"),
        "404": lambda c: c.manager("DELETE", f"{R}/echo/9"),
        "409": lambda c: c.manager("DELETE", f"{R}/echo/1"),
    },
    ("PUT", f"{R}/status/{{identifier}}/{{status}}"): {
        "200": lambda c: c.manager("PUT", f"{R}/status/echo/published"),
        "400": lambda c: c.manager("PUT", f"{R}/status/echo/bogus"),
        "404": lambda c: c.manager("PUT", f"{R}/status/no-such-rule/published"),
    },
    ("PUT", f"{R}/status/{{identifier}}/{{status}}/{{version}}"): {
        "200": lambda c: c.manager("PUT", f"{R}/status/echo/published/1"),
        "400": lambda c: c.manager("PUT", f"{R}/status/echo/published/v2"),
        "404": lambda c: c.manager("PUT", f"{R}/status/echo/published/9"),
    },
    ("POST", f"{R}/{{identifier}}/new-version"): {
        "201": lambda c: c.manager("POST", f"{R}/{c.new_rule()}/new-version", json={}),
        "400": lambda c: c.manager("POST", f"{R}/echo/new-version", json={"nodes": 1}),
        "404": lambda c: c.manager("POST", f"{R}/no-such-rule/new-version", json={}),
        "413": lambda c: c.manager("POST", f"{R}/echo/new-version", content=BIG),
    },
    ("GET", "/api/space/usage"): {
        "200": lambda c: c.manager("GET", "/api/space/usage"),
        "400": lambda c: c.manager("GET", "/api/space/usage", params={"month": "2026-13"}),
    },
    ("GET", "/api/space/items"): {"200": lambda c: c.manager("GET", "/api/space/items")},
    ("GET", W): {"200": lambda c: c.manager("GET", W)},
    ("POST", W): {
        "201": lambda c: c.manager("POST", W, json=_hook(c, f"h-{uuid.uuid4().hex[:8]}")),
        "400": lambda c: c.manager("POST", W, json={"url": 1}),
        "409": lambda c: c.manager("POST", W, json=_hook(c, "seeded")),
        "413": lambda c: c.manager("POST", W, content=BIG),
    },
    ("GET", f"{W}/{{webhookId}}"): {
        "200": lambda c: c.manager("GET", f"{W}/seeded"),
        "404": lambda c: c.manager("GET", f"{W}/no-such-hook"),
    },
    ("PUT", f"{W}/{{webhookId}}"): {
        "200": lambda c: c.manager("PUT", f"{W}/seeded", json={"description": "d"}),
        "400": lambda c: c.manager("PUT", f"{W}/seeded", json={"events": []}),
        "404": lambda c: c.manager("PUT", f"{W}/no-such-hook", json={"description": "d"}),
        "409": lambda c: c.manager("PUT", f"{W}/seeded", json={"alias": "slow"}),
        "413": lambda c: c.manager("PUT", f"{W}/seeded", content=BIG),
    },
    ("DELETE", f"{W}/{{webhookId}}"): {
        "204": lambda c: c.manager("DELETE", f"{W}/{_new_hook(c)}"),
        "404": lambda c: c.manager("DELETE", f"{W}/no-such-hook"),
    },
    ("GET", f"{W}/{{webhookId}}/deliveries"): {
        "200": lambda c: c.manager("GET", f"{W}/seeded/deliveries"),
        "400": lambda c: c.manager("GET", f"{W}/seeded/deliveries", params={"limit": 0}),
        "404": lambda c: c.manager("GET", f"{W}/no-such-hook/deliveries"),
    },
    ("POST", f"{W}/{{webhookId}}/test"): {
        "200": lambda c: c.manager("POST", f"{W}/seeded/test"),
        "404": lambda c: c.manager("POST", f"{W}/no-such-hook/test"),
    },
    ("POST", f"{W}/deliveries/{{deliveryId}}/redeliver"): {
        "202": lambda c: c.manager("POST", f"{W}/deliveries/{_test_delivery(c)}/redeliver"),
        "404": lambda c: c.manager("POST", f"{W}/deliveries/{NO_SUCH}/redeliver"),
        "409": _redeliver_in_flight,
    },
    ("POST", f"{S}/{{identifier}}"): {
        "200": lambda c: c.solver("POST", f"{S}/{TABLE}", json={"data": {"amount": 5}}),
        "400": lambda c: c.solver("POST", f"{S}/{TABLE}", json=[1]),
        "404": lambda c: c.solver("POST", f"{S}/no-such-rule", json={"data": {}}),
        "413": lambda c: c.solver("POST", f"{S}/{TABLE}", content=BIG),
    },
    ("POST", f"{S}/{{identifier}}/{{version}}"): {
        "200": lambda c: c.solver("POST", f"{S}/{TABLE}/1", json={"data": {"amount": 5}}),
        "400": lambda c: c.solver("POST", f"{S}/{TABLE}/v2", json={"data": {}}),
        "404": lambda c: c.solver("POST", f"{S}/{TABLE}/99", json={"data": {}}),
        "413": lambda c: c.solver("POST", f"{S}/{TABLE}/1", content=BIG),
    },
    ("GET", "/api/audit/{auditId}"): {
        "200": lambda c: c.manager("GET", f"/api/audit/{_audit(c)}"),
        "404": lambda c: c.manager("GET", f"/api/audit/{NO_SUCH}"),
    },
    ("POST", "/api/import"): {
        "201": lambda c: c.manager("POST", "/api/import", json=_exported(c)),
        "400": lambda c: c.manager("POST", "/api/import", json=42),
        "413": lambda c: c.manager("POST", "/api/import", content=BIG),
    },
    ("GET", "/api/export/{identifier}"): {
        "200": lambda c: c.manager("GET", f"/api/export/{TABLE}"),
        "404": lambda c: c.manager("GET", "/api/export/no-such-rule"),
    },
    ("GET", "/api/export/{identifier}/{version}"): {
        "200": lambda c: c.manager("GET", f"/api/export/{TABLE}/1"),
        "400": lambda c: c.manager("GET", f"/api/export/{TABLE}/v2"),
        "404": lambda c: c.manager("GET", f"/api/export/{TABLE}/99"),
    },
    ("GET", "/api/folder/export"): {"200": lambda c: c.manager("GET", "/api/folder/export")},
    ("GET", "/health"): {"200": lambda c: c.http.get("/health")},
    ("GET", "/healthz"): {"200": lambda c: c.http.get("/healthz")},
    ("GET", "/readyz"): {"200": lambda c: c.http.get("/readyz")},
    ("GET", "/metrics"): {"200": lambda c: c.http.get("/metrics")},
}


def _audit(c: Caller) -> str:
    """The id of an audited solve of the seeded table."""
    solved = c.solver("POST", f"{S}/{TABLE}", json={"data": {}}, headers={"X-Audit": "true"})
    assert solved.status_code == 200, solved.text
    return solved.headers["X-Audit-Id"]


def _exported(c: Caller) -> Any:
    exported = c.manager("GET", f"/api/export/{TABLE}")
    assert exported.status_code == 200, exported.text
    return exported.json()


def _hook(c: Caller, alias: str) -> dict[str, Any]:
    return {"url": c.server.hook_url, "alias": alias, "events": ["JOB.ERROR"]}


def _new_hook(c: Caller) -> str:
    created = c.manager("POST", W, json=_hook(c, f"h-{uuid.uuid4().hex[:8]}"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _generic(method: str, path: str, status: str) -> Provoke | None:
    """401, 403 and 431 are provoked alike on every operation."""
    management = path.startswith("/api/")
    if status == "401":
        return lambda c: c._call(None, method, _filled(c, path))
    if status == "403":
        call = c_solver if management else c_manager
        return lambda c: call(c, method, _filled(c, path))
    if status == "431":
        return lambda c: c._call(None, method, _filled(c, path), headers={"X-Pad": "p" * 17_000})
    return None


def c_solver(c: Caller, method: str, path: str) -> httpx.Response:
    return c.solver(method, path)


def c_manager(c: Caller, method: str, path: str) -> httpx.Response:
    return c.manager(method, path)


def _filled(c: Caller, path: str) -> str:
    values = {
        "identifier": "echo",
        "version": "1",
        "jobId": c.server.jobs[1],
        "spaceId": c.server.tenant.space_id,
        "status": "published",
        "webhookId": "seeded",
        "deliveryId": NO_SUCH,
        "auditId": NO_SUCH,
    }
    return path.format(**values)


def _documented(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (method.upper(), path, status)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    ]


def test_every_documented_status_is_reachable(fuzz_server: FuzzServer) -> None:
    with httpx.Client(base_url=fuzz_server.base_url, timeout=15) as http:
        caller = Caller(http, fuzz_server)
        documented = _documented(http.get("/openapi.json").json())
        unreached = []
        for method, path, status in documented:
            elsewhere = ELSEWHERE.get((method, path, status))
            if elsewhere is not None:
                assert _test_exists(elsewhere), f"{method} {path} {status}: {elsewhere} is gone"
                continue
            provoke = PROVOKE.get((method, path), {}).get(status) or _generic(method, path, status)
            if provoke is None:
                unreached.append(f"{method} {path} {status}: no request provokes it")
                continue
            answer = provoke(caller)
            if str(answer.status_code) != status:
                unreached.append(
                    f"{method} {path} {status}: got {answer.status_code} {answer.text}"
                )
    assert not unreached, "\n".join(unreached)
    assert len(documented) > 150


def _test_exists(reference: str) -> bool:
    file, name = reference.split("::")
    return f"def {name}(" in (Path(__file__).parent / file).read_text()
