"""Every route of the app against every kind of caller, on a real server.

The table below has one row per route (method and path template, with sample
values that exist in space A) and, for each of seven callers, the status the
route must answer. ``test_every_route_has_a_row`` fails as soon as the app has
a route without a row, so a new endpoint cannot be added without deciding who
may call it.

Callers: no Authorization header; a malformed one (a real key under the Basic
scheme); an unknown key; a revoked key of space A; the Solver key of A; the
Management key of A; the key of the right kind of another space (B).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from flowjobs.api.app import create_app
from flowjobs.config import Settings
from flowjobs.store import upgrade
from support.processes import FLOWS, serving
from support.webhooks import TEST_SECRET_KEY

from .helpers import assert_problem

CALLERS = ("none", "malformed", "unknown", "revoked", "solver", "management", "other_space")
METRICS_TOKEN = "matrix-metrics-" + secrets.token_hex(8)
SERVER_ENV = {
    "FLOWJOBS_SECRET_KEY": TEST_SECRET_KEY,
    "FLOWJOBS_WEBHOOK_ALLOW": '["127.0.0.1"]',
    "FLOWJOBS_METRICS_TOKEN": METRICS_TOKEN,
}
# Served by FastAPI itself, or by the dashboard (its own cookie login, tested
# on its branch): not part of the key-protected API.
NOT_IN_MATRIX = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
ECHO_NODES = [{"id": "done", "type": "end", "output": '{"got": input}'}]


def solver_route(ok: int, other_space: int) -> tuple[int, ...]:
    """A Jobs API route: only a valid Solver key gets in."""
    return (401, 401, 401, 401, ok, 403, other_space)


def management_route(ok: int, other_space: int) -> tuple[int, ...]:
    """A Management API route: only a valid Management key gets in."""
    return (401, 401, 401, 401, 403, ok, other_space)


def open_route(status: int) -> tuple[int, ...]:
    """No API key is looked at: every caller gets the same answer."""
    return (status,) * len(CALLERS)


def table_body(alias: str) -> dict[str, Any]:
    """A DecisionRules decision table (tests/support/flows/decision-table.yaml)."""
    document: dict[str, Any] = yaml.safe_load((FLOWS / "decision-table.yaml").read_text())
    return {**document, "ruleAlias": alias}


def rule_body(alias: str) -> dict[str, Any]:
    return {"name": f"Rule {alias}", "ruleAlias": alias, "type": "integration-flow"} | {
        "nodes": ECHO_NODES
    }


@dataclass
class Row:
    method: str
    template: str
    path: str  # the template with sample values of space A
    expected: tuple[int, ...]
    body: Any = None


def matrix(ids: dict[str, str]) -> list[Row]:
    """The table. ``ids`` holds the sample values made by the fixture; each
    destructive row has a sample of its own, so the order of rows is free."""
    a, hook, delivery = ids["space_a"], ids["hook"], ids["delivery"]
    echo_doc = {"alias": "echo", "nodes": ECHO_NODES}
    new_hook = {"url": "http://127.0.0.1:9/in", "alias": "made", "events": ["JOB.COMPLETED"]}
    return [
        # ---- the Jobs API: a Solver key; another space's jobs and rules are not found
        Row("POST", "/job/start/{identifier}", "/job/start/echo", solver_route(200, 404), {}),
        Row(
            "POST",
            "/job/start/{identifier}/{version}",
            "/job/start/echo/1",
            solver_route(200, 404),
            {},
        ),
        Row("POST", "/job/rerun/{jobId}", f"/job/rerun/{ids['canceled']}", solver_route(200, 404)),
        Row("GET", "/job", "/job", solver_route(200, 200)),  # B's own (empty) list
        Row(
            "POST", "/job/cancel/{jobId}", f"/job/cancel/{ids['to_cancel']}", solver_route(200, 404)
        ),
        Row(
            "POST",
            "/job/cancelAll/space/{spaceId}",
            f"/job/cancelAll/space/{a}",
            solver_route(200, 403),
        ),
        Row(
            "POST",
            "/job/cancelAll/rule/{identifier}/{version}",
            "/job/cancelAll/rule/echo/1",
            solver_route(200, 404),
        ),
        Row("GET", "/job/{jobId}/trace", f"/job/{ids['canceled']}/trace", solver_route(200, 404)),
        Row("GET", "/job/{jobId}/logs", f"/job/{ids['canceled']}/logs", solver_route(200, 404)),
        # a final job: its event stream ends after the first event
        Row("GET", "/job/{jobId}/events", f"/job/{ids['canceled']}/events", solver_route(200, 404)),
        Row("GET", "/job/{jobId}", f"/job/{ids['canceled']}", solver_route(200, 404)),
        # ---- the Management API: a Management key; B works in B only
        Row(
            "POST", "/api/rule/validate", "/api/rule/validate", management_route(200, 200), echo_doc
        ),
        Row("POST", "/api/rule/", "/api/rule/", management_route(201, 201), rule_body("made-1")),
        Row("POST", "/api/rule", "/api/rule", management_route(201, 201), rule_body("made-2")),
        Row("GET", "/api/rule/{identifier}", "/api/rule/echo", management_route(200, 404)),
        Row(
            "GET",
            "/api/rule/{identifier}/{version}",
            "/api/rule/echo/1",
            management_route(200, 404),
        ),
        Row(
            "PUT",
            "/api/rule/{identifier}",
            "/api/rule/editable",
            management_route(200, 404),
            rule_body("editable"),
        ),
        Row(
            "PUT",
            "/api/rule/{identifier}/{version}",
            "/api/rule/editable/1",
            management_route(200, 404),
            rule_body("editable"),
        ),
        Row(
            "PUT",
            "/api/rule/status/{identifier}/{status}",
            "/api/rule/status/editable/published",
            management_route(200, 404),
        ),
        Row(
            "PUT",
            "/api/rule/status/{identifier}/{status}/{version}",
            "/api/rule/status/editable/published/1",
            management_route(200, 404),
        ),
        Row(
            "POST",
            "/api/rule/{identifier}/new-version",
            "/api/rule/editable/new-version",
            management_route(201, 404),
            rule_body("editable"),
        ),
        Row("DELETE", "/api/rule/{identifier}", "/api/rule/doomed-1", management_route(204, 404)),
        Row(
            "DELETE",
            "/api/rule/{identifier}/{version}",
            "/api/rule/doomed-2/1",
            management_route(204, 404),
        ),
        Row("GET", "/api/space/usage", "/api/space/usage", management_route(200, 200)),
        Row("GET", "/api/space/items", "/api/space/items", management_route(200, 200)),
        Row("POST", "/api/webhooks", "/api/webhooks", management_route(201, 201), new_hook),
        Row("GET", "/api/webhooks", "/api/webhooks", management_route(200, 200)),
        Row(
            "GET", "/api/webhooks/{webhookId}", f"/api/webhooks/{hook}", management_route(200, 404)
        ),
        Row(
            "PUT",
            "/api/webhooks/{webhookId}",
            f"/api/webhooks/{hook}",
            management_route(200, 404),
            {"description": "changed"},
        ),
        Row(
            "DELETE",
            "/api/webhooks/{webhookId}",
            f"/api/webhooks/{ids['doomed_hook']}",
            management_route(204, 404),
        ),
        Row(
            "GET",
            "/api/webhooks/{webhookId}/deliveries",
            f"/api/webhooks/{hook}/deliveries",
            management_route(200, 404),
        ),
        Row(
            "POST",
            "/api/webhooks/{webhookId}/test",
            f"/api/webhooks/{hook}/test",
            management_route(200, 404),
        ),
        Row(
            "POST",
            "/api/webhooks/deliveries/{deliveryId}/redeliver",
            f"/api/webhooks/deliveries/{delivery}/redeliver",
            management_route(202, 404),
        ),
        # ---- the Solver API: a Solver key; another space's tables are not found
        *(
            Row("POST", template, path, solver_route(200, 404), {"data": {"amount": 5}})
            for template, path in (
                ("/rule/solve/{identifier}", "/rule/solve/table"),
                ("/rule/solve/{identifier}/", "/rule/solve/table/"),
                ("/rule/solve/{identifier}/{version}", "/rule/solve/table/1"),
            )
        ),
        # ---- audits, import and export: a Management key; B works in B only
        Row(
            "GET", "/api/audit/{auditId}", f"/api/audit/{ids['audit']}", management_route(200, 404)
        ),
        *(
            Row("GET", template, path, management_route(200, 404))
            for template, path in (
                ("/api/export/{identifier}", "/api/export/table"),
                ("/api/export/{identifier}/{version}", "/api/export/table/1"),
                ("/api/rule-flow/export/{identifier}", "/api/rule-flow/export/table"),
                ("/api/rule-flow/export/{identifier}/{version}", "/api/rule-flow/export/table/1"),
            )
        ),
        Row("GET", "/api/folder/export", "/api/folder/export", management_route(200, 200)),
        Row(
            "GET",
            "/api/folder/export/{node_id}",
            "/api/folder/export/root",
            management_route(200, 200),
        ),
        *(
            Row("POST", template, path, management_route(201, 201), table_body(alias))
            for template, path, alias in (
                ("/api/import", "/api/import", "imported-1"),
                ("/api/rule-flow/import", "/api/rule-flow/import", "imported-2"),
                ("/api/folder/import/{node_id}", "/api/folder/import/root", "imported-3"),
            )
        ),
        # ---- operations: probes are open; /metrics wants its own token, no API key
        Row("GET", "/health", "/health", open_route(200)),
        Row("GET", "/healthz", "/healthz", open_route(200)),
        Row("GET", "/readyz", "/readyz", open_route(200)),
        Row("GET", "/metrics", "/metrics", open_route(401)),
    ]


def app_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, as built by
    ``create_app`` (included routers unfolded), without FastAPI's docs."""
    app = create_app(Settings(database_url="sqlite://"), run_worker=False)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        entries = contexts() if callable(contexts) else contexts or [route]
        for entry in entries:
            path = str(getattr(entry, "path", ""))
            if path in NOT_IN_MATRIX or path == "/ui" or path.startswith("/ui/"):
                continue
            for method in getattr(entry, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


# ---- the server and its sample data ------------------------------------------------


@dataclass
class Keys:
    solver: str
    management: str
    revoked_solver: str
    revoked_management: str
    other_solver: str
    other_management: str


@dataclass
class Served:
    url: str  # the database
    base_url: str
    keys: Keys
    ids: dict[str, str]


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _key(url: str, space: str, kind: str) -> dict[str, Any]:
    created: dict[str, Any] = _cli(url, "key", "create", "--space", space, "--kind", kind)
    return created


def _provision_keys(url: str) -> Keys:
    revoked = [_key(url, "matrix-a", kind) for kind in ("solver", "management")]
    for key in revoked:
        assert _cli(url, "key", "revoke", key["id"]) == {"id": key["id"], "revoked": True}
    return Keys(
        solver=_key(url, "matrix-a", "solver")["key"],
        management=_key(url, "matrix-a", "management")["key"],
        revoked_solver=revoked[0]["key"],
        revoked_management=revoked[1]["key"],
        other_solver=_key(url, "matrix-b", "solver")["key"],
        other_management=_key(url, "matrix-b", "management")["key"],
    )


def _samples(http: httpx.Client, keys: Keys, space_a: str) -> dict[str, str]:
    """Rules, jobs, webhooks and a delivery of space A that the rows act on."""

    def call(method: str, path: str, key: str, **kw: Any) -> httpx.Response:
        response = http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
        assert response.is_success, response.text
        return response

    for alias in ("editable", "doomed-1", "doomed-2"):
        call("POST", "/api/rule", keys.management, json=rule_body(alias))
    call("POST", "/api/rule", keys.management, json=table_body("table"))
    audited = {"Authorization": f"Bearer {keys.solver}", "X-Audit": "true"}
    solved = http.post("/rule/solve/table", json={"data": {}}, headers=audited)
    assert solved.status_code == 200, solved.text
    to_cancel = call("POST", "/job/start/echo", keys.solver).json()["jobId"]
    canceled = call("POST", "/job/start/echo", keys.solver).json()["jobId"]
    call("POST", f"/job/cancel/{canceled}", keys.solver)
    hooks = [
        call(
            "POST",
            "/api/webhooks",
            keys.management,
            json={"url": "http://127.0.0.1:9/in", "alias": alias, "events": ["JOB.COMPLETED"]},
        ).json()["id"]
        for alias in ("hook", "doomed-hook")
    ]
    delivery = call("POST", f"/api/webhooks/{hooks[0]}/test", keys.management).json()
    return {
        "space_a": space_a,
        "to_cancel": to_cancel,
        "canceled": canceled,
        "hook": hooks[0],
        "doomed_hook": hooks[1],
        "delivery": delivery["deliveryId"],
        "audit": solved.headers["X-Audit-Id"],
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("e2e-matrix")
    url = f"sqlite:///{tmp / 'matrix.db'}"
    upgrade(url)
    # No worker: jobs stay WAITING and webhook deliveries stay due, so the
    # samples keep their state while the rows run.
    with serving(url, tmp, worker=False, name="matrix", extra_env=SERVER_ENV) as server:
        assert server.base_url is not None
        space_a = _cli(url, "space", "create", "matrix-a")["id"]
        _cli(url, "space", "create", "matrix-b")
        keys = _provision_keys(url)
        _cli(url, "rule", "push", str(FLOWS / "echo.yaml"), "--space", "matrix-a", "--publish")
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            yield Served(url, server.base_url, keys, _samples(http, keys, space_a))


# ---- the tests -------------------------------------------------------------------------


def _headers(caller: str, row: Row, keys: Keys) -> dict[str, str]:
    management = row.expected[5] not in (401, 403) and row.expected[4] == 403
    own = keys.management if management else keys.solver
    secret = {
        "malformed": None,
        "unknown": ("fjm_" if management else "fjs_") + secrets.token_urlsafe(32),
        "revoked": keys.revoked_management if management else keys.revoked_solver,
        "solver": keys.solver,
        "management": keys.management,
        "other_space": keys.other_management if management else keys.other_solver,
    }
    if caller == "none":
        return {}
    if caller == "malformed":
        return {"Authorization": f"Basic {own}"}  # a real key under the wrong scheme
    return {"Authorization": f"Bearer {secret[caller]}"}


def test_every_route_has_a_row() -> None:
    rows = {(row.method, row.template) for row in matrix(dict.fromkeys(ROW_IDS, "x"))}
    missing = app_routes() - rows
    stale = rows - app_routes()
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"
    assert not stale, f"rows for routes the app does not have: {sorted(stale)}"


ROW_IDS = ("space_a", "to_cancel", "canceled", "hook", "doomed_hook", "delivery", "audit")


def test_every_route_answers_every_caller_as_the_table_says(served: Served) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=served.base_url, timeout=15) as http:
        for row in matrix(served.ids):
            for caller, expected in zip(CALLERS, row.expected, strict=True):
                headers = _headers(caller, row, served.keys)
                response = http.request(row.method, row.path, headers=headers, json=row.body)
                if response.status_code != expected:
                    wrong.append(
                        f"{row.method} {row.template} as {caller}: "
                        f"{response.status_code}, expected {expected}: {response.text[:200]}"
                    )
    assert not wrong, "\n".join(wrong)


def test_a_revoked_key_gets_the_same_answer_as_an_unknown_one(served: Served) -> None:
    def answer(secret: str) -> httpx.Response:
        return httpx.get(
            f"{served.base_url}/job", headers={"Authorization": f"Bearer {secret}"}, timeout=15
        )

    revoked = answer(served.keys.revoked_solver)
    unknown = answer("fjs_" + secrets.token_urlsafe(32))
    assert_problem(revoked, 401, "UNAUTHORIZED")
    assert revoked.json() == unknown.json()
    assert revoked.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


def test_the_metrics_token_opens_metrics(served: Served) -> None:
    got = httpx.get(
        f"{served.base_url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=15,
    )
    assert got.status_code == 200 and "flowjobs_" in got.text


def test_key_list_shows_revocations_and_no_secret(served: Served) -> None:
    listed = _cli(served.url, "key", "list", "--space", "matrix-a")["keys"]
    assert [(k["kind"], k["revokedAt"] is not None) for k in listed] == [
        ("solver", True),
        ("management", True),
        ("solver", False),
        ("management", False),
    ]
    assert all(
        set(k) == {"id", "name", "kind", "spaceId", "createdAt", "revokedAt"} for k in listed
    )
    shown = json.dumps(listed)
    for secret in (served.keys.solver, served.keys.revoked_solver, served.keys.management):
        assert secret not in shown
