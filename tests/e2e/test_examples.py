"""The flows in examples/, run by a real server against a real SQL database
and a real REST service on 127.0.0.1, as a user would run them."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from support.processes import Proc, flowjobs, serving, wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"


@dataclass
class Enricher:
    """A small enrichment service: answers 503 to the first call for each
    e-mail address, then the company and a score."""

    calls: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


def _enricher() -> Enricher:
    state = Enricher()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            email = parse_qs(urlparse(self.path).query).get("email", [""])[0]
            first = email not in state.calls
            state.calls.append(email)
            if first:
                self._send(503, {"error": "warming up"})
            else:
                company = email.split("@")[1].split(".")[0].title()
                self._send(200, {"company": company, "score": len(email)})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            return None

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=state.server.serve_forever, daemon=True).start()
    return state


@dataclass
class Setup:
    server: Proc
    client: httpx.Client
    management: httpx.Client
    crm: Path
    enricher: Enricher


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("examples")
    crm = tmp / "crm.db"
    with sqlite3.connect(crm) as conn:
        conn.executescript((EXAMPLES / "customers.sql").read_text())
    url = f"sqlite:///{tmp / 'jobs.db'}"
    flowjobs(url, "init")
    space = flowjobs(url, "space", "create", "examples", "--parallel-limit", "4", "--json")
    env = {
        # the crm connection is open to the examples space only
        "FLOWJOBS_SQL_CONNECTIONS": json.dumps(
            {"crm": {"url": f"sqlite:///{crm}", "spaces": [space["id"]]}}
        ),
        "FLOWJOBS_REST_ALLOW": json.dumps(["127.0.0.1"]),
        "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
        "FLOWJOBS_DETAILS_FLUSH_INTERVAL": "0.1",
    }
    key = flowjobs(url, "key", "create", "--space", "examples", "--json")["key"]
    mkey = flowjobs(url, "key", "create", "--space", "examples", "--kind", "management", "--json")[
        "key"
    ]
    for name in ("price-order", "route-order", "credit-tiers", "enrich-contacts"):
        flowjobs(
            url,
            "rule",
            "push",
            str(EXAMPLES / f"{name}.yaml"),
            "--space",
            "examples",
            "--publish",
            "--json",
            extra_env=env,
        )
    enricher = _enricher()
    with serving(url, tmp, extra_env=env) as server:
        assert server.base_url is not None
        with (
            httpx.Client(
                base_url=server.base_url, timeout=10, headers={"Authorization": f"Bearer {key}"}
            ) as client,
            httpx.Client(
                base_url=server.base_url, timeout=10, headers={"Authorization": f"Bearer {mkey}"}
            ) as management,
        ):
            yield Setup(server, client, management, crm, enricher)
    assert enricher.server is not None
    enricher.server.shutdown()


def run(setup: Setup, alias: str, data: Any) -> dict[str, Any]:
    started = setup.client.post(f"/job/start/{alias}", json={"data": data})
    assert started.status_code == 200, started.text
    job_id = started.json()["jobId"]

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = setup.client.get(f"/job/{job_id}").json()
        return job if job["status"]["state"] in ("COMPLETED", "ERROR", "CANCELED") else None

    job: dict[str, Any] = wait_for(ended, timeout=30)
    return job


def test_credit_tiers_reads_decides_and_writes_back(setup: Setup) -> None:
    job = run(setup, "credit-tiers", json.loads((EXAMPLES / "credit-tiers.input.json").read_text()))
    assert job["status"]["state"] == "COMPLETED", job
    [output] = job["output"]
    assert output["decided"] == 4 and output["updated"] == 4
    with sqlite3.connect(setup.crm) as conn:
        tiers = dict(conn.execute("SELECT name, tier FROM customers ORDER BY id").fetchall())
    assert tiers == {"Ada": "A", "Grace": "B", "Alan": "C", "Edsger": "D"}
    assert job["progress"] == {"done": 4, "total": 4}
    trace = setup.client.get(f"/job/{job['jobId']}/trace").json()
    node_ids = {entry["nodeId"] for entry in trace["entries"]}
    assert {"customers", "decide", "tier", "save", "done"} <= node_ids
    assert trace["totalEntries"] == len(trace["entries"]) + sum(
        s["count"] for s in trace["summarised"].values()
    )


def test_enrich_contacts_retries_a_503_and_merges_the_answers(setup: Setup) -> None:
    data = json.loads((EXAMPLES / "enrich-contacts.input.json").read_text())
    data["serviceUrl"] = setup.enricher.url
    job = run(setup, "enrich-contacts", data)
    assert job["status"]["state"] == "COMPLETED", job
    [output] = job["output"]
    assert output["count"] == 3
    assert output["contacts"][0] == {
        "email": "ada@example.com",
        "company": "Example",
        "score": len("ada@example.com"),
    }
    assert [c["email"] for c in output["contacts"]] == [c["email"] for c in data["contacts"]]
    for contact in data["contacts"]:  # one 503, then the answer
        assert setup.enricher.calls.count(contact["email"]) == 2


@pytest.mark.parametrize(
    ("country", "quantity", "queue"),
    [("DE", 2, "express"), ("JP", 2, "freight"), ("DE", 20, "manual-review")],
)
def test_route_order_calls_the_pricing_subflow_and_branches(
    setup: Setup, country: str, quantity: int, queue: str
) -> None:
    data = json.loads((EXAMPLES / "route-order.input.json").read_text())
    data["country"] = country
    data["lines"][0]["quantity"] = quantity
    job = run(setup, "route-order", data)
    assert job["status"]["state"] == "COMPLETED", job
    [output] = job["output"]
    subtotal = 320 * quantity + 45.5 * 4
    rate = 0.1 if subtotal >= 1000 else 0.05 if subtotal >= 200 else 0
    assert output["queue"] == queue
    assert output["price"] == {
        "subtotal": subtotal,
        "discount": rate,
        "total": round(subtotal * (1 - rate), 2),
    }
    lines = setup.client.get(f"/job/{job['jobId']}/logs").json()["lines"]
    if queue == "manual-review":
        assert any("needs review" in line["message"] for line in lines)
    else:
        assert not any("needs review" in line["message"] for line in lines), lines


def test_validate_reports_every_problem_with_its_path(setup: Setup) -> None:
    document = {
        "name": "Broken",
        "alias": "broken",
        "nodes": [
            {
                "id": "q",
                "type": "sql",
                "connection": "nowhere",
                "query": "SELECT 1",
                "onError": {"goto": "missing"},
            },
            {"id": "c", "type": "call", "flow": "no-such-flow"},
            {"id": "me", "type": "call", "flow": "broken"},
            {"id": "x", "type": "assign", "set": {"v": "1 +"}},
            {"id": "x", "type": "frobnicate"},
        ],
    }
    answer = setup.management.post("/api/rule/validate", json=document)
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False
    text = "\n".join(body["problems"])
    for expected in ("nowhere", "missing", "frobnicate", "duplicate", "set.v"):
        assert expected in text, (expected, text)
    ok = setup.management.post(
        "/api/rule/validate",
        content=(EXAMPLES / "route-order.yaml").read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )
    assert ok.json() == {"valid": True, "problems": []}
    assert setup.client.post("/api/rule/validate", json=document).status_code == 403
    anonymous = httpx.post(f"{setup.server.base_url}/api/rule/validate", json=document)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


def test_validate_reports_missing_flows_and_cycles(setup: Setup) -> None:
    document = {
        "name": "Loops",
        "alias": "price-order",  # a new version of price-order that calls route-order,
        "nodes": [  # which calls price-order: a cycle
            {"id": "c", "type": "call", "flow": "route-order"},
            {"id": "m", "type": "call", "flow": "no-such-flow"},
        ],
    }
    body = setup.management.post("/api/rule/validate", json=document).json()
    assert body["valid"] is False
    assert any("cycle" in p and "route-order" in p for p in body["problems"]), body
    assert any("no-such-flow" in p for p in body["problems"]), body
