"""The rest of the Jobs API through ``flowjobs.client`` against the real
server: list with filters and cursor, iter_jobs, events, rerun, trace, logs,
idempotency keys, the URL and key from the environment; and the ``flowjobs
job`` commands, which use the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from flowjobs.client import AsyncJobsClient, JobFilter, JobsClient, NotFound
from flowjobs.domain import JobState
from flowjobs.schemas import JobList, JobLogs, JobTrace
from support.processes import Tenant

from .conftest import Servers
from .provision import new_tenant

FLOWS = ("echo", "sleeper", "failing")


@pytest.fixture(scope="module")
def tenant(servers: Servers) -> Tenant:
    return new_tenant(servers.live.url, "client-calls", FLOWS)


@pytest.fixture
def jobs(servers: Servers, tenant: Tenant) -> Iterator[JobsClient]:
    with JobsClient(servers.worker.base_url, tenant.key) as client:
        yield client


def test_list_filters_and_pages_with_the_cursor(jobs: JobsClient) -> None:
    started = [jobs.start("echo", {"n": n}).jobId for n in range(3)]
    for job_id in started:
        jobs.wait(job_id, timeout=15)
    failed = jobs.wait(jobs.start("failing", {"what": "x"}).jobId, timeout=15)

    first = jobs.list(JobFilter(rule="echo"), limit=2)
    second = jobs.list(JobFilter(rule="echo"), limit=2, cursor=first.nextCursor)
    errors = jobs.list(JobFilter(state=JobState.ERROR), full=True)

    assert isinstance(first, JobList) and first.nextCursor is not None
    assert [j.jobId for j in first.jobs + second.jobs] == started[::-1]
    assert [j.jobId for j in errors.jobs] == [failed.jobId]
    assert errors.jobs[0].inputData == {"what": "x"}
    assert [j.jobId for j in jobs.iter_jobs(JobFilter(rule="echo"), page_size=1)] == started[::-1]


def test_events_follow_a_job_to_its_end(jobs: JobsClient) -> None:
    job = jobs.start("sleeper", {"seconds": 0.3})

    events = list(jobs.events(job.jobId))

    assert events[0].kind == "state" and events[-1].kind == "end"
    assert events[-1].state is JobState.COMPLETED
    states = [e.state for e in events if e.kind == "state"]
    assert states[-1] is JobState.COMPLETED and JobState.RUNNING in states


def test_rerun_trace_and_logs(jobs: JobsClient) -> None:
    failed = jobs.wait(jobs.start("failing", {"what": "y"}).jobId, timeout=15)

    again = jobs.rerun(failed.jobId, correlation_id="second-try")
    trace = jobs.trace(failed.jobId)
    logs = jobs.logs(failed.jobId)

    assert (again.rerunOf, again.correlationId, again.inputData) == (
        failed.jobId,
        "second-try",
        {"what": "y"},
    )
    assert isinstance(trace, JobTrace) and trace.jobId == failed.jobId
    assert trace.totalEntries >= 1
    assert isinstance(logs, JobLogs) and logs.jobId == failed.jobId
    jobs.wait(again.jobId, timeout=15)


def test_an_idempotency_key_starts_one_job(jobs: JobsClient) -> None:
    first = jobs.start("echo", {"n": 1}, idempotency_key="order-42")
    second = jobs.start("echo", {"n": 1}, idempotency_key="order-42")

    assert first.jobId == second.jobId
    jobs.wait(first.jobId, timeout=15)


def test_url_and_key_from_the_environment(
    servers: Servers, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert servers.worker.base_url is not None
    monkeypatch.setenv("FLOWJOBS_URL", servers.worker.base_url)
    monkeypatch.setenv("FLOWJOBS_KEY", tenant.key)
    with JobsClient() as client, pytest.raises(NotFound):
        client.info("6f1e2d3c-0000-4000-8000-000000000000")


async def test_the_async_client_lists_and_streams(servers: Servers, tenant: Tenant) -> None:
    async with AsyncJobsClient(servers.worker.base_url, tenant.key) as client:
        job = await client.start("echo", {"async": True})
        kinds = [event.kind async for event in client.events(job.jobId)]
        listed = [j.jobId async for j in client.iter_jobs(JobFilter(rule="echo"), page_size=50)]
    assert kinds[0] == "state" and kinds[-1] == "end"
    assert job.jobId in listed


def run_job_command(
    servers: Servers, tenant: Tenant, *args: str
) -> subprocess.CompletedProcess[str]:
    assert servers.worker.base_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    env |= {"FLOWJOBS_URL": servers.worker.base_url, "FLOWJOBS_KEY": tenant.key}
    return subprocess.run(
        [sys.executable, "-m", "flowjobs", "job", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_job_commands_go_through_the_api(servers: Servers, tenant: Tenant) -> None:
    with JobsClient(servers.worker.base_url, tenant.key) as client:
        client.start("echo", {"cli": 0})  # an older one: the list has a second page
        done = client.start("echo", {"cli": 1}).jobId
        running = client.start("sleeper", {"seconds": 30}).jobId

    waited = run_job_command(servers, tenant, "wait", done, "--timeout", "15", "--json")
    listed = run_job_command(servers, tenant, "list", "--rule", "echo", "--limit", "1")
    got = run_job_command(servers, tenant, "get", done)
    timed_out = run_job_command(servers, tenant, "wait", running, "--timeout", "0")
    canceled = run_job_command(servers, tenant, "cancel", running, "--json")
    ended = run_job_command(servers, tenant, "wait", running, "--timeout", "15")

    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"]["state"] == "COMPLETED"
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["JOB", "ID", "STATE"]
    assert rows[0].startswith(done) and rows[-1].startswith("more: --cursor ")
    assert got.stdout.splitlines()[1].split()[:2] == [done, "COMPLETED"]
    assert json.loads(canceled.stdout)["status"]["state"] in ("CANCELING", "CANCELED")
    assert timed_out.returncode == 124 and "after 0 s" in timed_out.stderr
    assert ended.returncode == 1 and "CANCELED" in ended.stdout  # ended, but not COMPLETED


def test_job_commands_without_a_server_say_so(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    env |= {"FLOWJOBS_URL": "http://127.0.0.1:9", "FLOWJOBS_KEY": "fjs_x"}
    done = subprocess.run(
        [sys.executable, "-m", "flowjobs", "job", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: cannot reach the Jobs API at http://127.0.0.1:9 (ConnectError): "
        "is flowjobs serve running there? (--url or FLOWJOBS_URL)"
    )
