"""Data that the database or the JSON serializer cannot hold (issue 17, points
3, 6 and 7): flow outputs nested too deep, lone surrogates, NUL characters,
numbers past the columns' range, YAML integers past Python's 4300 digits.

Each is checked where it is written (jsoncheck.py): over HTTP in process
(httpx on the ASGI app with its real lifespan and embedded worker), on SQLite
and PostgreSQL alike, with real flows and a real webhook receiver.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from flowjobs import domain
from flowjobs.api.app import JobsApi, create_app
from flowjobs.clock import utcnow
from flowjobs.domain import ApiKey, DeliveryState, KeyKind, NewJob, Space
from flowjobs.ids import new_job_id
from support.env import Env, MakeEnv
from support.receiver import Receiver
from support.webhooks import FAST_WEBHOOKS, create, eventually

PROBLEM_JSON = "application/problem+json"
NESTING = 300  # levels a flow's loop nests its output: past the serializer's 255
FINAL = {"COMPLETED", "ERROR", "CANCELED"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HTML = {"Accept": "text/html"}


def _flow(alias: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": alias, "alias": alias, "nodes": list(nodes)}


def _log(message: str) -> dict[str, Any]:
    return {"id": "say", "type": "log", "message": message}


def _end(output: str) -> dict[str, Any]:
    return {"id": "done", "type": "end", "output": output}


FLOWS = [
    # a foreach that wraps a value in {"a": ...} once per item: 300 levels
    _flow(
        "deep",
        _log('"nesting " & $string($count(input.items)) & " levels"'),
        {"id": "init", "type": "declare", "vars": {"x": "{}"}},
        {
            "id": "loop",
            "type": "foreach",
            "items": "input.items",
            "nodes": [{"id": "nest", "type": "assign", "set": {"x": '{"a": vars.x}'}}],
        },
        _end("vars.x"),
    ),
    _flow("surrogate", _log('"before the end"'), _end('{"text": "a\\ud800b"}')),
    _flow("nul-output", _log('"before the end"'), _end('{"text": "a\\u0000b"}')),
    _flow("nul-log", _log('"log\\u0000line \\udc00"'), _end('"fine"')),
    _flow("echo", _end("input")),
    _flow("fail-nul", {"id": "boom", "type": "fail", "message": '"bad \\u0000 \\ud800"'}),
]


@dataclass
class Served:
    app: JobsApi
    http: httpx.AsyncClient
    env: Env
    space: Space
    solver: str
    management: str
    management_key: ApiKey
    receiver: Receiver

    @property
    def solver_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.solver}"}

    @property
    def management_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.management}"}

    async def start(self, alias: str, body: Any = None) -> dict[str, Any]:
        content = b"" if body is None else json.dumps(body).encode()
        response = await self.http.post(
            f"/job/start/{alias}", headers=self.solver_headers, content=content
        )
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    async def ended(self, job_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/job/{job_id}?wait=20", headers=self.solver_headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        assert job["status"]["state"] in FINAL, job
        return job

    async def logs(self, job_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/job/{job_id}/logs", headers=self.solver_headers)
        assert response.status_code == 200, response.text
        lines: list[dict[str, Any]] = response.json()["lines"]
        return lines


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
async def served(make_env: MakeEnv, receiver: Receiver) -> AsyncIterator[Served]:
    env = await make_env(ui_secret="test-secret", **FAST_WEBHOOKS)
    space, _ = await env.space_with_key("poison")
    solver = await env.catalog.create_key(space.id, KeyKind.SOLVER, "solver")
    management = await env.catalog.create_key(space.id, KeyKind.MANAGEMENT, "admin")
    for document in FLOWS:
        await env.push(space, document)
    app = create_app(env.settings, run_worker=True)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        await create(app.state.flowjobs.webhooks, space.id, receiver.url + "/hook", "ops")
        yield Served(
            app,
            http,
            env,
            space,
            solver.secret,
            management.secret,
            management.key,
            receiver,
        )


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def _webhook_event(served: Served, job_id: str) -> dict[str, Any]:
    async def delivered() -> dict[str, Any] | None:
        for received in served.receiver.accepted():
            if job_id in received.body.decode():
                return received.event
        return None

    return await eventually(delivered)


async def _events(served: Served, job_id: str) -> str:
    async with served.http.stream(
        "GET", f"/job/{job_id}/events", headers=served.solver_headers
    ) as stream:
        assert stream.status_code == 200
        return (await stream.aread()).decode()


# ---- point 3: outputs nested deeper than the serializer allows -----------------------


async def test_a_deeply_nested_flow_output_ends_its_job_and_every_read_works(
    served: Served,
) -> None:
    job = await served.start("deep", {"items": list(range(NESTING))})

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "ERROR"
    assert ended["status"]["code"] == "JOB_EXECUTION_ERROR"
    assert ended["error"]["type"] == "OUTPUT_INVALID"
    assert "deeper than 64 levels" in ended["error"]["message"]
    assert ended["output"] is None
    listed = await served.http.get("/job?full=true", headers=served.solver_headers)
    assert listed.status_code == 200, listed.text
    assert job["jobId"] in [j["jobId"] for j in listed.json()["jobs"]]
    stream = await _events(served, job["jobId"])
    assert "OUTPUT_INVALID" in stream
    assert [line["message"] for line in await served.logs(job["jobId"])] == [
        f"nesting {NESTING} levels"
    ]
    event = await _webhook_event(served, job["jobId"])
    assert event["data"]["error"]["type"] == "OUTPUT_INVALID"


async def test_an_output_within_the_depth_limit_still_completes(served: Served) -> None:
    job = await served.start("deep", {"items": list(range(60))})

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "COMPLETED", ended
    depth, value = 0, ended["output"][0]
    while value:
        depth, value = depth + 1, value["a"]
    assert depth == 60


async def test_the_webhook_of_a_job_stored_before_the_checks_fails_at_once_not_for_a_day(
    served: Served,
) -> None:
    """A job whose input was stored unchecked (before this release) cannot be
    written as an event: its delivery ends FAILED on its first attempt."""
    job_id = await _stored_job(served, input_data=_nested(NESTING), status=domain.INITIALIZED)
    manager, key = served.env.manager, served.management_key

    async def ended() -> Any:  # read from the store: GET /job of this job cannot answer
        job = await manager.info(key, job_id)
        return job if job.state is domain.JobState.ERROR else None

    assert (await eventually(ended)).error["type"] == "OUTPUT_INVALID"  # echo gave it back
    hooks = served.app.state.flowjobs.webhooks

    async def settled() -> list[Any] | None:
        found = await hooks.job_deliveries(served.space.id, job_id)
        return found if found and found[0].state is DeliveryState.FAILED else None

    [delivery] = await eventually(settled)
    assert delivery.attempts == 1
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("the job's data cannot be written as JSON")
    assert served.receiver.accepted() == []


# ---- point 3: lone surrogates ---------------------------------------------------------


async def test_a_lone_surrogate_in_an_output_fails_with_a_clear_code_and_keeps_the_logs(
    served: Served,
) -> None:
    job = await served.start("surrogate")

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "ERROR"
    assert ended["error"]["type"] == "OUTPUT_INVALID"
    assert "lone surrogate (U+D800)" in ended["error"]["message"]
    assert "$.text" in ended["error"]["message"]
    assert [line["message"] for line in await served.logs(job["jobId"])] == ["before the end"]
    trace = await served.http.get(f"/job/{job['jobId']}/trace", headers=served.solver_headers)
    assert trace.status_code == 200


async def test_start_inputs_that_cannot_be_stored_are_refused_alike_by_api_and_dashboard(
    served: Served,
) -> None:
    deep = "[" * NESTING + "]" * NESTING
    cases = [
        ('"\\ud800"', "INVALID_JSON", "lone surrogate (U+D800)"),
        (deep, "JSON_TOO_DEEP", "deeper than 64 levels"),
        ('{"k": "a\\u0000"}', "UNSUPPORTED_CHARACTER", "NUL character (U+0000)"),
    ]
    await _sign_in(served)
    for text, code, phrase in cases:
        api = await served.http.post(
            "/job/start/echo", headers=served.solver_headers, content=text.encode()
        )
        assert phrase in _assert_problem(api, 400, code)["detail"]
        token = await _csrf(served, "/ui/flows/echo")
        form = await served.http.post(
            "/ui/flows/echo/start", data={"csrf": token, "input": text, "version": "1"}
        )
        assert form.status_code == 400, (text, form.status_code)
        assert phrase in form.text  # the form again, with the reason next to it
    listed = await served.http.get("/job", headers=served.solver_headers)
    assert listed.json()["jobs"] == []  # nothing was queued


async def test_rerun_of_a_job_stored_before_the_checks_is_refused_alike(served: Served) -> None:
    poisoned = await _stored_job(served, input_data=_nested(NESTING))
    token = await _sign_in(served)

    api = await served.http.post(f"/job/rerun/{poisoned}", headers=served.solver_headers)
    form = await served.http.post(f"/ui/jobs/{poisoned}/rerun", data={"csrf": token})

    _assert_problem(api, 400, "JSON_TOO_DEEP")
    assert form.status_code == 400


# ---- point 6: NUL characters, one behaviour on both databases ---------------------------


async def test_a_nul_in_an_output_fails_the_job_on_either_database(served: Served) -> None:
    job = await served.start("nul-output")

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "ERROR"
    assert ended["error"]["type"] == "OUTPUT_INVALID"
    assert "NUL character (U+0000)" in ended["error"]["message"]
    assert [line["message"] for line in await served.logs(job["jobId"])] == ["before the end"]


async def test_nul_and_surrogates_in_log_lines_are_mended_and_the_job_completes(
    served: Served,
) -> None:
    job = await served.start("nul-log")

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "COMPLETED", ended
    assert [line["message"] for line in await served.logs(job["jobId"])] == ["log\ufffdline \ufffd"]


async def test_a_failure_message_with_a_nul_and_a_surrogate_is_mended(served: Served) -> None:
    job = await served.start("fail-nul")

    ended = await served.ended(job["jobId"])

    assert ended["status"]["state"] == "ERROR"
    assert ended["error"]["type"] == "FlowFailed"
    assert "bad \ufffd \ufffd" in ended["status"]["message"]
    assert "bad \ufffd \ufffd" in ended["error"]["message"]


async def test_a_nul_in_an_input_or_a_url_is_a_400_naming_it(served: Served) -> None:
    solver, management = served.solver_headers, served.management_headers
    for body in ('"\\u0000"', '{"data": {"k\\u0000": 1}}'):
        started = await served.http.post("/job/start/echo", headers=solver, content=body)
        problem = _assert_problem(started, 400, "UNSUPPORTED_CHARACTER")
        assert "NUL" in problem["detail"]
    requests = [
        ("POST", "/job/start/ec%00ho", solver),
        ("POST", "/job/start/echo/1%00", solver),
        ("GET", "/job/0190a2b4-0000-7000-8000-00000000000%00", solver),
        ("GET", "/job?rule=ec%00ho", solver),
        ("POST", "/job/cancelAll/rule/ec%00ho/1", solver),
        ("GET", "/api/rule/ec%00ho", management),
        ("GET", "/ui/flows/ec%00ho", {}),
    ]
    for method, path, headers in requests:
        response = await served.http.request(method, path, headers=headers)
        problem = _assert_problem(response, 400, "UNSUPPORTED_CHARACTER")
        assert "NUL" in problem["detail"], path
    for header in ("X-Correlation-Id", "Idempotency-Key"):
        with_nul = solver | {header: "a\x00b"}
        started = await served.http.post("/job/start/echo", headers=with_nul)
        problem = _assert_problem(started, 400, "UNSUPPORTED_CHARACTER")
        assert problem["detail"].startswith(f"{header} holds a NUL character"), problem
    flow = {"name": "n", "alias": "n", "nodes": [_end('"a\\u0000"')], "description": "x\u0000"}
    pushed = await served.http.post("/api/rule", headers=management, json=flow)
    _assert_problem(pushed, 400, "UNSUPPORTED_CHARACTER")


# ---- point 7: numbers past the database's range --------------------------------------------


async def test_a_version_filter_past_32_and_64_bits_is_a_400(served: Served) -> None:
    for version in ("2147483648", "9223372036854775808", "1" + "0" * 40):
        response = await served.http.get(
            f"/job?rule=echo&version={version}", headers=served.solver_headers
        )
        _assert_problem(response, 400, "INVALID_REQUEST")
    within = await served.http.get(
        "/job?rule=echo&version=2147483647", headers=served.solver_headers
    )
    assert within.status_code == 200


async def test_yaml_with_an_integer_of_more_than_4300_digits_is_a_400(served: Served) -> None:
    yaml_flow = (
        "name: big\nalias: big\nnodes:\n  - id: done\n    type: end\n"
        f"    output: '1'\nsettings:\n  huge: {'9' * 5000}\n"
    ).encode()
    headers = served.management_headers | {"Content-Type": "application/yaml"}
    for path in ("/api/rule", "/api/rule/validate", "/api/rule/echo/new-version"):
        response = await served.http.post(path, headers=headers, content=yaml_flow)
        problem = _assert_problem(response, 400, "INVALID_JSON")
        assert "4300" in problem["detail"], path


async def test_a_nul_in_a_yaml_flow_is_a_problem_of_the_flow(served: Served) -> None:
    yaml_flow = (
        b'name: odd\nalias: odd\ndescription: "a\\0b"\nnodes:\n'
        b"  - id: done\n    type: end\n    output: '1'\n"
    )
    headers = served.management_headers | {"Content-Type": "application/yaml"}

    created = await served.http.post("/api/rule", headers=headers, content=yaml_flow)
    validated = await served.http.post("/api/rule/validate", headers=headers, content=yaml_flow)

    problem = _assert_problem(created, 400, "INVALID_RULE")
    assert problem["problems"] == [
        "description: holds a NUL character (U+0000), which cannot be stored"
    ]
    assert validated.status_code == 200
    assert validated.json() == {"valid": False, "problems": problem["problems"]}


def test_the_cli_push_of_a_yaml_with_a_huge_integer_says_why_in_a_line(
    db_url: str, tmp_path: Path
) -> None:
    from flowjobs.cli import app

    flow_file = tmp_path / "big.yaml"
    flow_file.write_text(f"name: big\nalias: big\nnodes: []\nsettings:\n  n: {'9' * 5000}\n")
    runner = CliRunner()
    made = runner.invoke(app, ["--database-url", db_url, "space", "create", "cli"])
    assert made.exit_code == 0, made.output

    pushed = runner.invoke(
        app, ["--database-url", db_url, "rule", "push", str(flow_file), "--space", "cli"]
    )

    assert pushed.exit_code == 1
    assert "Traceback" not in pushed.output
    assert f"{flow_file}: an integer has more than 4300 digits" in pushed.output


# ---- helpers ----------------------------------------------------------------------------


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


async def _stored_job(
    served: Served, *, input_data: Any, status: domain.Status = domain.USER_CANCELED
) -> str:
    """A job written straight to the store, as a job started before the input
    checks could be (its input unchecked); CANCELED unless ``status`` says."""
    rule = (await served.env.store.find_rule_versions(served.space.id, "echo"))[0]
    new = NewJob(
        id=new_job_id(),
        space=served.space,
        rule=rule,
        correlation_id="old",
        input=input_data,
        priority=0,
        environment_group="",
        api_key=served.management_key,
        execution_limit_s=60,
    )
    # CANCELED: the embedded worker never claims it
    job = await served.env.store.insert_job(new, utcnow(), status)
    return job.id


async def _csrf(served: Served, path: str) -> str:
    page = await served.http.get(path, headers=HTML)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def _sign_in(served: Served) -> str:
    token = await _csrf(served, "/ui/login")
    signed = await served.http.post(
        "/ui/login", data={"csrf": token, "key": served.management, "next": "/ui/jobs"}
    )
    assert signed.status_code == 303
    return await _csrf(served, "/ui/jobs")
