"""Fixtures for the end-to-end tests.

Two SQLite databases, each created with ``flowjobs init`` and provisioned with
the ``flowjobs`` command line (spaces, keys, ``rule push --publish``):

* ``live``: spaces A and B, served by ``flowjobs serve`` WITH the embedded worker,
  plus a second ``flowjobs serve --no-worker`` process on the same file (jobs it
  accepts are run by the other process's worker).
* ``idle``: spaces A and B of their own, served only by ``flowjobs serve
  --no-worker``; nothing ever runs there, so jobs stay WAITING.

Servers and ``init`` are real subprocesses. A Python start-up costs ~2.5 s of CPU
here, so the twenty-odd provisioning commands run the same Typer app in this
process instead (one import, a few ms per command), while the servers boot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from support.processes import FLOWS, Proc, Tenant, flowjobs, serving

from .helpers import Api

LIVE_FLOWS = (
    "echo",
    "sleeper",
    "failing",
    "quick-timeout",
    "array-output",
    "decision-table",
    "handler",
)
IDLE_FLOWS = ("echo", "sleeper")
PARALLEL_LIMIT = 8
ENVIRONMENT_GROUP = "e2e-staging"

WORKER_ENV = {
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
    "FLOWJOBS_POLL_INTERVAL": "0.1",
    "FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "0",
    "FLOWJOBS_ENVIRONMENT_GROUP": ENVIRONMENT_GROUP,
}
API_ONLY_ENV = {"FLOWJOBS_ENVIRONMENT_GROUP": ENVIRONMENT_GROUP}


@dataclass
class Database:
    url: str
    a: Tenant
    b: Tenant


@dataclass
class Servers:
    live: Database
    idle: Database
    worker: Proc  # live database, embedded worker
    live_api_only: Proc  # live database, --no-worker
    idle_api_only: Proc  # idle database, --no-worker
    tmp: Path

    @property
    def secrets(self) -> list[str]:
        tenants = (self.live.a, self.live.b, self.idle.a, self.idle.b)
        return [s for t in tenants for s in (t.key, t.management_key) if s]


def cli(database_url: str, *args: str) -> Any:
    """Run one ``flowjobs`` command in this process; its stdout parsed as JSON."""
    from flowjobs.cli import app  # imported once, after the servers were launched

    # No env= here: CliRunner would edit os.environ while the server threads
    # read it (a race); the servers fixture sets what the CLI needs up front.
    result = CliRunner().invoke(app, ["--database-url", database_url, *args])
    assert result.exit_code == 0, f"flowjobs {' '.join(args)} failed: {result.output}"
    return json.loads(result.stdout)


def _provision(url: str, prefix: str, flows: tuple[str, ...]) -> Database:
    """Spaces A and B, a Solver key each, a Management key for A, and ``flows``
    pushed and published in A (B has no rules at all)."""
    tenants = {}
    for side in ("a", "b"):
        name = f"{prefix}-{side}"
        space = cli(url, "space", "create", name, "--parallel-limit", str(PARALLEL_LIMIT), "--json")
        key = cli(url, "key", "create", "--space", name, "--json")
        tenants[side] = Tenant(space["id"], key["key"], "")
    name_a = f"{prefix}-a"
    mkey = cli(url, "key", "create", "--space", name_a, "--kind", "management", "--json")
    tenants["a"].management_key = mkey["key"]
    for flow in flows:
        path = str(FLOWS / f"{flow}.yaml")
        rule = cli(url, "rule", "push", path, "--space", name_a, "--publish", "--json")
        tenants["a"].rules[rule["ruleAlias"]] = rule
    return Database(url, tenants["a"], tenants["b"])


def _enter(stack: ExitStack, manager: AbstractContextManager[Proc]) -> Proc:
    proc = manager.__enter__()
    stack.push(manager.__exit__)
    return proc


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("e2e")
    live_url = f"sqlite:///{tmp / 'e2e.db'}"
    idle_url = f"sqlite:///{tmp / 'e2e-idle.db'}"
    # Set before any thread starts: the in-process CLI reads its settings from here.
    previous = os.environ.get("FLOWJOBS_HANDLER_PREFIXES")
    os.environ["FLOWJOBS_HANDLER_PREFIXES"] = json.dumps(["support"])
    try:
        yield from _serve_both(tmp, live_url, idle_url)
    finally:
        if previous is None:
            del os.environ["FLOWJOBS_HANDLER_PREFIXES"]
        else:
            os.environ["FLOWJOBS_HANDLER_PREFIXES"] = previous


def _serve_both(tmp: Path, live_url: str, idle_url: str) -> Iterator[Servers]:
    with ExitStack() as stack, ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda url: flowjobs(url, "init"), [live_url, idle_url]))
        managers = [
            serving(live_url, tmp, worker=True, name="worker", extra_env=WORKER_ENV),
            serving(live_url, tmp, worker=False, name="live-api-only", extra_env=API_ONLY_ENV),
            serving(idle_url, tmp, worker=False, name="idle-api-only", extra_env=API_ONLY_ENV),
        ]
        booting = [pool.submit(_enter, stack, manager) for manager in managers]
        # the servers read the database per request: provision while they boot
        live = _provision(live_url, "live", LIVE_FLOWS)
        idle = _provision(idle_url, "idle", IDLE_FLOWS)
        procs = [future.result() for future in booting]
        for proc in procs:
            assert proc.base_url is not None
            assert proc.base_url.startswith("http://127.0.0.1:")
        yield Servers(live, idle, procs[0], procs[1], procs[2], tmp)


@pytest.fixture(scope="session")
def responses() -> list[httpx.Response]:
    """Every response any e2e test received (checked for leaked secrets)."""
    return []


@pytest.fixture(scope="session")
def client(servers: Servers, responses: list[httpx.Response]) -> Iterator[httpx.Client]:
    secrets = servers.secrets

    def no_secret(response: httpx.Response) -> None:
        response.read()
        responses.append(response)
        exposed = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in secrets:
            assert secret not in exposed, f"an API key secret leaked in {response.url}"

    with httpx.Client(timeout=15, event_hooks={"response": [no_secret]}) as http:
        yield http


def _api(client: httpx.Client, proc: Proc, tenant: Tenant) -> Api:
    assert proc.base_url is not None
    return Api(client, proc.base_url, tenant)


@pytest.fixture(scope="session")
def live(client: httpx.Client, servers: Servers) -> Api:
    """Space A of the live database, on the server with the embedded worker."""
    return _api(client, servers.worker, servers.live.a)


@pytest.fixture(scope="session")
def live_b(client: httpx.Client, servers: Servers) -> Api:
    """Space B of the live database, on the server with the embedded worker."""
    return _api(client, servers.worker, servers.live.b)


@pytest.fixture(scope="session")
def live_api_only(client: httpx.Client, servers: Servers) -> Api:
    """Space A of the live database, on the API-only server (same file)."""
    return _api(client, servers.live_api_only, servers.live.a)


@pytest.fixture(scope="session")
def idle(client: httpx.Client, servers: Servers) -> Api:
    """Space A of the idle database: an API-only server, jobs stay WAITING."""
    return _api(client, servers.idle_api_only, servers.idle.a)


@pytest.fixture(scope="session")
def idle_b(client: httpx.Client, servers: Servers) -> Api:
    """Space B of the idle database (no rules), same API-only server."""
    return _api(client, servers.idle_api_only, servers.idle.b)


@pytest.fixture
def sleepers(live: Api) -> Iterator[list[str]]:
    """Job ids of sleeper jobs a test starts; whatever is still active at the end is
    canceled, so that no test leaves a running job behind for the next one."""
    started: list[str] = []
    yield started
    for job_id in started:
        if live.job(job_id)["status"]["state"] in {"WAITING", "RUNNING"}:
            live.cancel(job_id)
    for job_id in started:
        live.wait_final(job_id)


@pytest.fixture
def scratch(tmp_path: Path) -> Callable[[str, str, str], Path]:
    """Write a modified copy of a test flow into tmp_path."""

    def write(flow: str, replace_from: str, replace_to: str = "") -> Path:
        text = (FLOWS / f"{flow}.yaml").read_text()
        assert replace_from in text
        target = tmp_path / f"{flow}.yaml"
        target.write_text(text.replace(replace_from, replace_to))
        return target

    return write
