"""A small flowjobs deployment for the scale tests: API processes
(``serve --no-worker``) and worker processes over one PostgreSQL database,
plus an HTTP load driver and direct SQL helpers.

Every wait is bounded; every process is stopped (SIGTERM, then KILL) on exit.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psycopg

from support.processes import Proc, free_port, running, wait_until_healthy

FAST = {
    "FLOWJOBS_POLL_INTERVAL": "0.5",
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.1",
    "FLOWJOBS_REAP_INTERVAL": "0.5",
    "FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "1",
    "FLOWJOBS_LOG_LEVEL": "INFO",
}
FINAL = frozenset({"COMPLETED", "CANCELED", "ERROR"})
PROBLEM_JSON = "application/problem+json"


class Cluster:
    """API and worker processes started on demand; all stopped on exit."""

    def __init__(self, url: str, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.log_dir = log_dir
        self.env = dict(FAST) | dict(env or {})
        self.apis: list[Proc] = []
        self.workers: list[Proc] = []
        self._stack = ExitStack()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        procs = [*self.workers, *self.apis]
        for proc in procs:  # all at once: the processes shut down in parallel
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait()
        self._stack.close()

    def start(self, *, concurrency: int = 16) -> Cluster:
        """Two API processes and three workers, started together."""
        self.spawn_apis("api0", "api1")
        self.spawn_workers("w0", "w1", "w2", concurrency=concurrency)
        self.ready()
        return self

    def spawn_workers(self, *names: str, concurrency: int = 16) -> list[Proc]:
        started = [
            self._stack.enter_context(
                running(
                    self.url,
                    "worker",
                    "--concurrency",
                    str(concurrency),
                    log_dir=self.log_dir,
                    name=name,
                    extra_env=self.env,
                )
            )
            for name in names
        ]
        self.workers.extend(started)
        return started

    def spawn_apis(self, *names: str) -> list[Proc]:
        started = []
        for name in names:
            port = free_port()
            proc = self._stack.enter_context(
                running(
                    self.url,
                    "serve",
                    "--no-worker",
                    "--port",
                    str(port),
                    log_dir=self.log_dir,
                    name=name,
                    extra_env=self.env,
                )
            )
            proc.base_url = f"http://127.0.0.1:{port}"
            started.append(proc)
        self.apis.extend(started)
        return started

    def ready(self, timeout: float = 60) -> None:
        """Wait (bounded) until every API answers /health and every worker runs."""
        for proc in self.apis:
            wait_until_healthy(proc, timeout=timeout)
        for proc in self.workers:
            if proc.process.poll() != -signal.SIGKILL:  # a killed one is not waited for
                wait_logged(proc, "start", timeout=timeout)

    @property
    def base_urls(self) -> list[str]:
        return [p.base_url for p in self.apis if p.base_url]

    def worker_logs(self) -> list[dict[str, Any]]:
        return [line for w in self.workers for line in w.log_lines()]

    def all_logs(self) -> list[dict[str, Any]]:
        return [line for p in [*self.workers, *self.apis] for line in p.log_lines()]


def wait_logged(proc: Proc, action: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.log_lines():
            if line.get("action") == action:
                return line
        if proc.process.poll() is not None:
            raise AssertionError(
                f"{proc.log_path.name} exited: {proc.log_path.read_text()[-3000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"no {action!r} line in {proc.log_path.name} within {timeout} s")


# ---- HTTP ----------------------------------------------------------------------------


@dataclass
class Answer:
    """One HTTP answer (or a transport failure, as status 0)."""

    status: int
    content_type: str
    body: Any
    api: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def job_id(self) -> str:
        return str(self.body["jobId"])


@dataclass
class Api:
    """An async client per API process, with a bounded connection pool each."""

    base_urls: Sequence[str]
    secret: str
    timeout: float = 30
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def __aenter__(self) -> Api:
        headers = {"Authorization": f"Bearer {self.secret}"}
        # Idle connections are dropped before uvicorn does (5 s), so that no request
        # is sent on a connection the server is closing.
        limits = httpx.Limits(
            max_connections=32, max_keepalive_connections=32, keepalive_expiry=2.0
        )
        self.clients = [
            httpx.AsyncClient(base_url=u, headers=headers, timeout=self.timeout, limits=limits)
            for u in self.base_urls
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients))

    async def call(self, api: int, method: str, path: str, **kwargs: Any) -> Answer:
        client = self.clients[api % len(self.clients)]
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            return Answer(0, "", repr(exc), api)
        content_type = response.headers.get("content-type", "")
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, content_type, body, api)

    async def start(self, api: int, alias: str, data: Any) -> Answer:
        return await self.call(api, "POST", f"/job/start/{alias}", json=data)

    async def cancel(self, api: int, job_id: str) -> Answer:
        return await self.call(api, "POST", f"/job/cancel/{job_id}")

    async def info(self, api: int, job_id: str) -> Answer:
        return await self.call(api, "GET", f"/job/{job_id}")


async def drive(
    count: int, clients: int, one: Callable[[int, int], Awaitable[None]], *, timeout: float
) -> None:
    """Run ``one(index, client)`` for index 0..count-1 from ``clients`` concurrent
    loops (client c talks to API c % number of APIs), within ``timeout`` seconds."""
    indices = itertools.count()

    async def client(number: int) -> None:
        while (index := next(indices)) < count:
            await one(index, number)

    await asyncio.wait_for(asyncio.gather(*(client(c) for c in range(clients))), timeout)


# ---- SQL ------------------------------------------------------------------------------


async def sql(url: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """One statement on a fresh autocommit connection; its rows (or [])."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=5
    ) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


async def state_counts(url: str, job_ids: Sequence[str] | None = None) -> dict[str, int]:
    if job_ids is None:
        rows = await sql(url, "SELECT state, count(*) FROM jobs GROUP BY state")
    else:
        rows = await sql(
            url,
            "SELECT state, count(*) FROM jobs WHERE id = ANY(%s) GROUP BY state",
            (list(job_ids),),
        )
    return {str(state): int(n) for state, n in rows}


async def wait_all_final(
    url: str, job_ids: Sequence[str] | None = None, *, timeout: float
) -> dict[str, int]:
    """Poll until every job (or every listed one) is COMPLETED, CANCELED or ERROR."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = await state_counts(url, job_ids)
        if set(counts) <= FINAL:
            return counts
        await asyncio.sleep(0.2)
    raise AssertionError(f"jobs not final within {timeout} s: {counts}")


async def until(
    probe: Callable[[], Awaitable[Any]], *, timeout: float, interval: float = 0.1
) -> Any:
    """Await ``probe()`` until it gives something truthy (bounded in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def _state_problems(job: Mapping[str, Any]) -> list[str]:
    status, output, error = job["status"], job.get("output"), job.get("error")
    state, code = status["state"], status["code"]
    if state == "COMPLETED":
        problems = [] if job.get("claimedAt") else ["COMPLETED but never claimed"]
        if code != "JOB_SUCCESS" or output is None or error is not None:
            problems.append("COMPLETED without JOB_SUCCESS and an output, or with an error")
        return problems
    if state == "CANCELED":
        problems = [] if code == "JOB_USER_CANCELED" else [f"CANCELED with code {code}"]
        if output is not None or error is not None:
            problems.append("CANCELED with an output or an error")
        return problems
    if state == "ERROR":
        if not error or output is not None:
            return ["ERROR without an error, or with an output"]
        if error.get("message") != status["message"]:
            return ["error.message differs from status.message"]
        if code in ("JOB_SUCCESS", "JOB_USER_CANCELED", "JOB_RUNNING", "JOB_INITIALIZED"):
            return [f"ERROR with code {code}"]
        return []
    return [f"not final: {state}"]


def job_problems(job: Mapping[str, Any]) -> list[str]:
    """What is inconsistent in one final Job JSON (empty if nothing): COMPLETED
    has an output and JOB_SUCCESS, CANCELED neither output nor error and
    JOB_USER_CANCELED, ERROR an error agreeing with its status; all an endedAt."""
    problems = _state_problems(job)
    if job.get("endedAt") is None:
        problems.append("no endedAt")
    return [f"{job['jobId']}: {p} ({job['status']})" for p in problems]
