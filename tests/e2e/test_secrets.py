"""No secret leaks: a full scenario against a real server with a worker, with
distinctive secrets everywhere, and every byte it produced searched for them.

Secrets: the API keys, the webhook signing secret, the password in the URL of
a named SQL connection, the Fernet key (FLOWJOBS_SECRET_KEY) and the metrics
token. Searched: every response (body and headers) but the one that hands a
secret out, the server's log at DEBUG, the webhook requests received, every
job's trace and logs, /metrics, and the database file itself (keys only as
hashes, webhook secrets only encrypted).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from flowjobs.store import upgrade
from support.pgroles import PgRole, pg_role
from support.processes import FLOWS, Proc, serving, wait_for
from support.receiver import Receiver

PASSWORD = "Pw-" + secrets.token_hex(12)
METRICS_TOKEN = "metrics-" + secrets.token_hex(12)
FERNET_KEY = Fernet.generate_key().decode()

SQL_OK = """
name: Read
alias: sql-read
nodes:
  - id: row
    type: sql
    connection: crm
    mode: one
    query: SELECT :n AS n
    params:
      n: input.n
  - id: done
    type: end
    output: row
"""
SQL_BROKEN = SQL_OK.replace("sql-read", "sql-broken").replace("connection: crm", "connection: gone")


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class Recorder:
    """An HTTP client that keeps every response it got."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15)
        self.seen: list[str] = []

    def call(self, method: str, path: str, key: str, **kw: Any) -> httpx.Response:
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append(f"{method} {path} -> {response.status_code}\n{headers}\n{response.text}")
        return response

    def final(self, job_id: str, key: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = self.call("GET", f"/job/{job_id}?wait=5", key).json()
            return job if job["status"]["state"] in {"COMPLETED", "ERROR", "CANCELED"} else None

        found: dict[str, Any] = wait_for(ended, timeout=30)
        return found


def _scenario(api: Recorder, solver: str, management: str, receiver: Receiver) -> str:
    """Everything a user does; returns the webhook secret (shown once)."""
    hook = api.call(
        "POST",
        "/api/webhooks",
        management,
        json={
            "url": receiver.url,
            "alias": "all",
            "events": ["JOB.COMPLETED", "JOB.ERROR", "JOB.CANCELED"],
        },
    )
    assert hook.status_code == 201, hook.text
    api.seen.pop()  # this one answer carries the webhook secret, by design
    webhook_secret: str = hook.json()["secret"]

    read = api.call("POST", "/job/start/sql-read", solver, json={"data": {"n": 7}}).json()
    broken = api.call("POST", "/job/start/sql-broken", solver, json={"data": {"n": 1}}).json()
    sleeper = api.call("POST", "/job/start/sleeper", solver, json={"data": {"seconds": 30}})
    assert api.final(read["jobId"], solver)["output"] == [{"n": 7}]
    assert api.final(broken["jobId"], solver)["status"]["state"] == "ERROR"
    api.call("POST", f"/job/cancel/{sleeper.json()['jobId']}", solver)
    api.final(sleeper.json()["jobId"], solver)
    for job in (read, broken, sleeper.json()):
        for view in ("", "/trace", "/logs"):
            assert api.call("GET", f"/job/{job['jobId']}{view}", solver).status_code == 200
    api.call("GET", "/job?full=true", solver)
    api.call("GET", "/api/space/usage", management)
    api.call("GET", "/api/webhooks", management)
    api.call("POST", "/job/start/sql-read", "fjs_wrong", json={"n": 1})  # a 401 too
    metrics = api.call("GET", "/metrics", METRICS_TOKEN)
    assert metrics.status_code == 200
    api.seen.append(api.call("GET", "/metrics", "wrong").text)
    wait_for(lambda: len(receiver.accepted()) >= 3, timeout=30)
    return webhook_secret


@pytest.fixture
def receiver() -> Any:
    started = Receiver().start()
    yield started
    started.stop()


def test_no_secret_in_any_answer_log_trace_metric_or_stored_row(
    tmp_path: Path, pg_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pg_url: PostgreSQL is reachable (the test skips, or fails in CI, otherwise)
    url = f"sqlite:///{tmp_path / 'secrets.db'}"
    upgrade(url)
    with pg_role(password=PASSWORD) as role:  # not a superuser: those are refused
        _run_scenario(tmp_path, url, role, receiver, monkeypatch)


def _run_scenario(
    tmp_path: Path, url: str, role: PgRole, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = {
        "crm": {"url": role.url(), "spaces": ["*"]},
        "gone": {"url": role.url("no_such_database_x"), "spaces": ["*"]},
    }
    env = {
        "FLOWJOBS_SECRET_KEY": FERNET_KEY,
        "FLOWJOBS_METRICS_TOKEN": METRICS_TOKEN,
        "FLOWJOBS_SQL_CONNECTIONS": json.dumps(connections),
        "FLOWJOBS_WEBHOOK_ALLOW": '["127.0.0.1"]',
        "FLOWJOBS_WEBHOOK_POLL_INTERVAL": "0.1",
        "FLOWJOBS_POLL_INTERVAL": "0.1",
        "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
        "FLOWJOBS_LOG_LEVEL": "DEBUG",
    }
    # the in-process CLI checks the connection names of pushed flows
    monkeypatch.setenv("FLOWJOBS_SQL_CONNECTIONS", env["FLOWJOBS_SQL_CONNECTIONS"])
    for name, text in (("sql-read", SQL_OK), ("sql-broken", SQL_BROKEN)):
        (tmp_path / f"{name}.yaml").write_text(text)
    with serving(url, tmp_path, worker=True, name="secrets", extra_env=env) as server:
        assert server.base_url is not None
        _cli(url, "space", "create", "vault")
        solver = _cli(url, "key", "create", "--space", "vault")["key"]
        management = _cli(url, "key", "create", "--space", "vault", "--kind", "management")["key"]
        for flow in (tmp_path / "sql-read.yaml", tmp_path / "sql-broken.yaml"):
            _cli(url, "rule", "push", str(flow), "--space", "vault", "--publish")
        _cli(url, "rule", "push", str(FLOWS / "sleeper.yaml"), "--space", "vault", "--publish")
        api = Recorder(server.base_url)
        webhook_secret = _scenario(api, solver, management, receiver)
    sent = [f"{r.headers}\n{r.body.decode()}" for r in receiver.requests()]
    everything = {
        "responses": "\n".join(api.seen),
        "server log": server.log_path.read_text(errors="replace"),
        "webhook requests": "\n".join(sent),
        "database": _database_bytes(tmp_path),
    }
    _assert_logged_something(server)
    leaks = [
        f"{what} in the {where}"
        for what, secret in {
            "the Solver key": solver,
            "the Management key": management,
            "the webhook secret": webhook_secret,
            "the SQL password": PASSWORD,
            "the Fernet key": FERNET_KEY,
            "the metrics token": METRICS_TOKEN,
        }.items()
        for where, text in everything.items()
        if secret in text
    ]
    assert not leaks, leaks


def _database_bytes(folder: Path) -> str:
    files = sorted(folder.glob("secrets.db*"))
    assert files
    return "\n".join(f.read_bytes().decode("latin-1") for f in files)


def _assert_logged_something(server: Proc) -> None:
    lines = server.log_lines()
    assert any(line.get("action") == "start" for line in lines) or len(lines) > 10
