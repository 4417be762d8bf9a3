"""Webhooks over HTTP against a real ``flowjobs serve`` (embedded worker) with
webhooks configured, and a real receiver on 127.0.0.1: the Management API,
a job's event signed as documented (checked in Python and as the JavaScript
SDK checks it), test events, redelivery, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from flowjobs.store import upgrade
from support import jscheck
from support.processes import FLOWS, Proc, serving, wait_for
from support.receiver import Receiver
from support.webhooks import FAST_WEBHOOKS, TEST_SECRET_KEY, as_env_vars

from .helpers import Api, assert_problem

SERVER_ENV = as_env_vars(FAST_WEBHOOKS)


@dataclass
class Hooked:
    url: str  # the database
    server: Proc
    space: str
    solver: str
    management: str
    other_management: str  # a Management key of another space

    def call(self, method: str, path: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        secret = self.management if key is None else key
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.request(
            method, f"{self.server.base_url}{path}", headers=headers, timeout=15, **kw
        )


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hooked]:
    tmp = tmp_path_factory.mktemp("e2e-webhooks")
    url = f"sqlite:///{tmp / 'hooks.db'}"
    upgrade(url)
    with serving(url, tmp, worker=True, name="hooks", extra_env=SERVER_ENV) as server:
        space = _cli(url, "space", "create", "hooks", "--json")
        solver = _cli(url, "key", "create", "--space", "hooks", "--json")["key"]
        management = _cli(
            url, "key", "create", "--space", "hooks", "--kind", "management", "--json"
        )["key"]
        _cli(url, "space", "create", "others", "--json")
        other = _cli(url, "key", "create", "--space", "others", "--kind", "management", "--json")
        _cli(
            url, "rule", "push", str(FLOWS / "echo.yaml"), "--space", "hooks", "--publish", "--json"
        )
        yield Hooked(url, server, space["id"], solver, management, other["key"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def _create(hooked: Hooked, **body: Any) -> httpx.Response:
    return hooked.call("POST", "/api/webhooks", json=body)


def test_management_api_for_webhooks(hooked: Hooked) -> None:
    valid = {"url": "http://127.0.0.1:9/in", "alias": "crm", "events": ["JOB.COMPLETED"]}
    assert_problem(hooked.call("POST", "/api/webhooks", key="", content=b"{"), 401, "UNAUTHORIZED")
    assert_problem(
        hooked.call("POST", "/api/webhooks", key=hooked.solver, json=valid), 403, "WRONG_KEY_KIND"
    )
    created = _create(hooked, **valid, description="orders")
    assert created.status_code == 201, created.text
    hook = created.json()
    assert created.headers["location"] == f"/api/webhooks/{hook['id']}"
    assert hook["secret"].startswith("fjw_") and hook["rules"] == "all" and hook["enabled"]
    assert_problem(_create(hooked, **valid), 409, "ALREADY_EXISTS")

    bad_bodies = [
        ({**valid, "alias": "x1", "url": "ftp://127.0.0.1/x"}, "INVALID_WEBHOOK_URL"),
        ({**valid, "alias": "x2", "url": "http://10.1.2.3/x"}, "INVALID_WEBHOOK_URL"),
        ({**valid, "alias": "x3", "rules": ["no-such-flow"]}, "INVALID_WEBHOOK"),
        ({**valid, "alias": "x4", "events": ["JOB.STARTED"]}, "INVALID_REQUEST"),
        ({**valid, "alias": "x5", "events": []}, "INVALID_REQUEST"),
        ({**valid, "alias": "x 6"}, "INVALID_REQUEST"),
        ({**valid, "alias": "x7", "secret": "mine"}, "INVALID_REQUEST"),
    ]
    for body, code in bad_bodies:
        assert_problem(_create(hooked, **body), 400, code)
    not_json = hooked.call("POST", "/api/webhooks", content=b"{nope")
    assert_problem(not_json, 400, "INVALID_JSON")

    listed = hooked.call("GET", "/api/webhooks").json()
    assert [h["alias"] for h in listed] == ["crm"] and "secret" not in listed[0]
    for ref in (hook["id"], "crm"):
        got = hooked.call("GET", f"/api/webhooks/{ref}")
        assert got.status_code == 200 and got.json() == listed[0]
    elsewhere = hooked.call("GET", f"/api/webhooks/{hook['id']}", key=hooked.other_management)
    assert_problem(elsewhere, 404, "WEBHOOK_NOT_FOUND")
    assert hooked.call("GET", "/api/webhooks", key=hooked.other_management).json() == []

    changed = hooked.call(
        "PUT", "/api/webhooks/crm", json={"enabled": False, "rules": ["echo"], "description": None}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["description"] is None
    assert len(changed.json()["rules"]) == 1
    bad_put = hooked.call("PUT", "/api/webhooks/crm", json={"url": "gopher://127.0.0.1"})
    assert_problem(bad_put, 400, "INVALID_WEBHOOK_URL")
    bad_state = hooked.call("GET", "/api/webhooks/crm/deliveries", params={"state": "LOST"})
    assert_problem(bad_state, 400, "INVALID_REQUEST")

    assert hooked.call("DELETE", "/api/webhooks/crm").status_code == 204
    assert_problem(hooked.call("GET", "/api/webhooks/crm"), 404, "WEBHOOK_NOT_FOUND")
    assert_problem(hooked.call("DELETE", "/api/webhooks/crm"), 404, "WEBHOOK_NOT_FOUND")


def _deliveries(hooked: Hooked, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
    response = hooked.call("GET", f"/api/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_a_job_event_a_test_event_and_a_redelivery(hooked: Hooked, receiver: Receiver) -> None:
    created = _create(hooked, url=receiver.url, alias="receiver", events=["JOB.COMPLETED"])
    hook = created.json()
    jobs = Api(httpx.Client(timeout=15), str(hooked.server.base_url), _tenant(hooked))
    job = jobs.start_ok("echo", {"name": "Zoë", "amount": 12.0})
    done = jobs.wait_final(job["jobId"])

    [request] = wait_for(receiver.accepted)
    assert request.signed_with(hook["secret"])
    event = request.event
    assert event["eventType"] == "JOB.COMPLETED"
    assert event["data"] == done  # what GET /job/{jobId} answers
    assert event["data"]["output"][0]["input"] == {"name": "Zoë", "amount": 12}
    assert event["metadata"]["webhookAlias"] == "receiver"
    [check] = jscheck.validate([(request.body, request.signature, hook["secret"])])
    assert check == {"valid": True, "sameText": True}

    [delivery] = wait_for(lambda: _delivered(hooked, hook["id"]))
    assert delivery["jobId"] == job["jobId"] and delivery["eventType"] == "JOB.COMPLETED"
    assert [a["statusCode"] for a in delivery["attempts"]] == [200]
    assert delivery["deliveryId"] == event["metadata"]["deliveryId"]

    tested = hooked.call("POST", "/api/webhooks/receiver/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["state"] == "DELIVERED" and tested.json()["eventType"] == "WEBHOOK.TEST"
    assert receiver.requests()[-1].event["eventType"] == "WEBHOOK.TEST"
    assert receiver.requests()[-1].signed_with(hook["secret"])

    again = hooked.call("POST", f"/api/webhooks/deliveries/{delivery['deliveryId']}/redeliver")
    assert again.status_code == 202 and again.json()["state"] == "PENDING"
    redelivered = wait_for(lambda: len(receiver.requests()) == 3 and receiver.requests()[-1])
    assert redelivered.event["metadata"]["deliveryId"] == delivery["deliveryId"]
    assert redelivered.event["metadata"]["attempt"] == 2
    assert len(_deliveries(hooked, hook["id"], limit=1)) == 1
    unknown = hooked.call("POST", "/api/webhooks/deliveries/nope/redeliver")
    assert_problem(unknown, 404, "DELIVERY_NOT_FOUND")
    elsewhere = hooked.call(
        "POST",
        f"/api/webhooks/deliveries/{delivery['deliveryId']}/redeliver",
        key=hooked.other_management,
    )
    assert_problem(elsewhere, 404, "DELIVERY_NOT_FOUND")
    assert hooked.call("DELETE", f"/api/webhooks/{hook['id']}").status_code == 204
    log = hooked.server.log_path.read_text()
    assert "webhook-attempt" in log and hook["secret"] not in log  # never logged


def _tenant(hooked: Hooked) -> Any:
    from support.processes import Tenant

    return Tenant(hooked.space, hooked.solver, hooked.management)


def _delivered(hooked: Hooked, webhook_id: str) -> list[dict[str, Any]] | None:
    found = _deliveries(hooked, webhook_id)
    return found if found and all(d["state"] == "DELIVERED" for d in found) else None


def test_cli_creates_lists_and_deletes_webhooks(
    hooked: Hooked, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set in this thread only; the server is another process.
    monkeypatch.setenv("FLOWJOBS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("FLOWJOBS_WEBHOOK_ALLOW", '["127.0.0.1"]')
    created = _cli(
        hooked.url,
        "webhook",
        "create",
        "--space",
        "hooks",
        "--url",
        "http://127.0.0.1:9/x",
        "--alias",
        "from-cli",
        "--event",
        "JOB.ERROR",
        "--rule",
        "echo",
        "--json",
    )
    assert created["secret"].startswith("fjw_") and created["events"] == ["JOB.ERROR"]
    listed = _cli(hooked.url, "webhook", "list", "--space", "hooks", "--json")["webhooks"]
    assert [h["alias"] for h in listed] == ["from-cli"] and "secret" not in listed[0]
    over_http = hooked.call("GET", "/api/webhooks/from-cli").json()
    assert over_http["id"] == created["id"] and over_http["rules"] == created["rules"]
    deleted = _cli(hooked.url, "webhook", "delete", "--space", "hooks", "from-cli", "--json")
    assert deleted == {"deleted": created["id"], "alias": "from-cli"}
    assert _cli(hooked.url, "webhook", "list", "--space", "hooks", "--json") == {"webhooks": []}


def test_without_a_secret_key_webhooks_answer_503(live: Api) -> None:
    """The shared e2e servers set no FLOWJOBS_SECRET_KEY."""
    body = {"url": "http://127.0.0.1:9/x", "alias": "nokey", "events": ["JOB.COMPLETED"]}
    response = live.post("/api/webhooks", key=live.tenant.management_key, json=body)
    problem = assert_problem(response, 503, "SECRET_KEY_MISSING")
    assert "FLOWJOBS_SECRET_KEY" in problem["detail"]
