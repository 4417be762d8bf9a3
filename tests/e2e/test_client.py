"""flowjobs.client against the real server: every call, typed results, errors
carrying the problem body, wait, and the async client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowjobs.client import (
    AsyncJobsClient,
    BadRequest,
    Conflict,
    Forbidden,
    JobsApiError,
    JobsClient,
    JobsClientError,
    NotFound,
    QuotaExceeded,
    Unauthorized,
    WaitTimeout,
)
from flowjobs.domain import JobState, JobStatusCode
from flowjobs.schemas import Job, RuleCancelResult, SpaceCancelResult
from support.processes import Tenant, wait_for

from .conftest import Servers
from .provision import new_tenant

UNKNOWN_JOB = "6f1e2d3c-0000-4000-8000-000000000000"
FLOWS = ("echo", "sleeper")


@pytest.fixture(scope="module")
def live_tenant(servers: Servers) -> Tenant:
    """A fresh space of the live database (jobs run)."""
    return new_tenant(servers.live.url, "client-live", FLOWS)


@pytest.fixture(scope="module")
def idle_tenant(servers: Servers) -> Tenant:
    """A fresh space of the idle database (jobs stay WAITING)."""
    return new_tenant(servers.idle.url, "client-idle", FLOWS)


@pytest.fixture
def jobs(servers: Servers, live_tenant: Tenant) -> Iterator[JobsClient]:
    assert servers.worker.base_url is not None
    with JobsClient(servers.worker.base_url, live_tenant.key) as client:
        yield client


@pytest.fixture
def idle_jobs(servers: Servers, idle_tenant: Tenant) -> Iterator[JobsClient]:
    assert servers.idle_api_only.base_url is not None
    with JobsClient(servers.idle_api_only.base_url, idle_tenant.key) as client:
        yield client


def test_start_info_and_wait_until_completed(jobs: JobsClient, live_tenant: Tenant) -> None:
    started = jobs.start("echo", {"name": "Ada"}, correlation_id="client-1", priority=3)

    done = jobs.wait(started.jobId, timeout=15)

    assert isinstance(started, Job) and started.status.state is JobState.WAITING
    assert (started.correlationId, started.context.priority) == ("client-1", 3)
    assert started.context.spaceId == live_tenant.space_id
    assert (done.status.state, done.status.code) == (JobState.COMPLETED, JobStatusCode.JOB_SUCCESS)
    assert done.output == [
        {"input": {"name": "Ada"}, "jobId": started.jobId, "correlationId": "client-1"}
    ]
    assert jobs.info(started.jobId) == done


def test_start_sends_the_input_as_it_is_and_picks_versions(jobs: JobsClient) -> None:
    looks_wrapped = jobs.start("echo", {"data": [1, 2]})
    no_input = jobs.start("echo", version=1)
    latest = jobs.start("echo", [1], "latest")

    assert looks_wrapped.inputData == {"data": [1, 2]}  # not unwrapped by the server
    assert (no_input.inputData, no_input.ruleReference.version) == ({}, 1)
    assert latest.inputData == [1]
    for job in (looks_wrapped, no_input, latest):
        assert jobs.wait(job.jobId, timeout=15).status.state is JobState.COMPLETED


def test_cancel_a_running_job_and_wait_until_canceled(jobs: JobsClient) -> None:
    started = jobs.start("sleeper", {"seconds": 30})
    wait_for(lambda: jobs.info(started.jobId).status.state is JobState.RUNNING, timeout=15)

    canceling = jobs.cancel(started.jobId)
    canceled = jobs.wait(started.jobId, timeout=15)

    assert canceling.status.state in (JobState.CANCELING, JobState.CANCELED)
    assert (canceled.status.state, canceled.status.code) == (
        JobState.CANCELED,
        JobStatusCode.JOB_USER_CANCELED,
    )


def test_cancel_all_of_a_rule_and_of_a_space(idle_jobs: JobsClient, idle_tenant: Tenant) -> None:
    echoes = [idle_jobs.start("echo", {"n": n}).jobId for n in range(2)]
    sleeper = idle_jobs.start("sleeper").jobId

    by_rule = idle_jobs.cancel_all_rule("echo", "latest")
    by_space = idle_jobs.cancel_all_space(idle_tenant.space_id, running=True)

    assert isinstance(by_rule, RuleCancelResult)
    assert by_rule.ruleReference.baseId == idle_tenant.rules["echo"]["baseId"]
    assert (by_rule.canceledCount, by_rule.cancelingCount) == (2, 0)
    assert by_space == SpaceCancelResult(
        spaceId=idle_tenant.space_id, canceledCount=1, cancelingCount=0
    )
    for job_id in [*echoes, sleeper]:
        assert idle_jobs.info(job_id).status.state is JobState.CANCELED


def test_wait_gives_up_after_the_timeout(idle_jobs: JobsClient) -> None:
    waiting = idle_jobs.start("echo")

    with pytest.raises(WaitTimeout) as gave_up:
        idle_jobs.wait(waiting.jobId, timeout=0.3)

    assert isinstance(gave_up.value, TimeoutError) and isinstance(gave_up.value, JobsClientError)
    assert gave_up.value.job.jobId == waiting.jobId
    assert gave_up.value.job.status.state is JobState.WAITING
    idle_jobs.cancel(waiting.jobId)


def _raised(call: object) -> JobsApiError:
    assert callable(call)
    with pytest.raises(JobsApiError) as raised:
        call()
    return raised.value


def test_errors_carry_the_problem_body(
    servers: Servers, jobs: JobsClient, live_tenant: Tenant, idle_tenant: Tenant
) -> None:
    assert servers.worker.base_url is not None
    base = servers.worker.base_url
    done = jobs.wait(jobs.start("echo").jobId, timeout=15)

    not_found = _raised(lambda: jobs.info(UNKNOWN_JOB))
    assert isinstance(not_found, NotFound)
    assert (not_found.status, not_found.code, not_found.detail) == (
        404,
        "JOB_NOT_FOUND",
        "Job not found.",
    )
    assert not_found.problem.title == "Not Found"
    assert "JOB_NOT_FOUND" in str(not_found)
    assert isinstance(_raised(lambda: jobs.start("no-such-flow")), NotFound)
    bad = _raised(lambda: jobs.start("echo", priority=11))
    assert (type(bad), bad.code) == (BadRequest, "INVALID_REQUEST")
    assert bad.problems and "priority" in bad.problems[0]
    assert _raised(lambda: jobs.start("echo", version="v2")).code == "INVALID_VERSION"
    conflict = _raised(lambda: jobs.cancel(done.jobId))
    assert (type(conflict), conflict.code) == (Conflict, "JOB_STATE_CONFLICT")
    other_space = _raised(lambda: jobs.cancel_all_space(idle_tenant.space_id))
    assert (type(other_space), other_space.code) == (Forbidden, "FORBIDDEN")
    with JobsClient(base, "fjs_not-a-key") as stranger:
        assert isinstance(_raised(lambda: stranger.info(done.jobId)), Unauthorized)
    with JobsClient(base, live_tenant.management_key) as wrong_kind:
        wrong = _raised(lambda: wrong_kind.info(done.jobId))
        assert (type(wrong), wrong.code) == (Forbidden, "WRONG_KEY_KIND")


def test_quota_exceeded_is_its_own_error(servers: Servers) -> None:
    assert servers.worker.base_url is not None
    tenant = new_tenant(servers.live.url, "client-quota", ("echo",), "--quota-seconds", "0")

    with JobsClient(servers.worker.base_url, tenant.key) as client:
        refused = _raised(lambda: client.start("echo", {"n": 1}))

    assert isinstance(refused, QuotaExceeded)
    assert (refused.status, refused.code) == (402, "JOB_QUOTA_EXCEEDED")


async def test_the_async_client(servers: Servers, live_tenant: Tenant, idle_tenant: Tenant) -> None:
    assert servers.worker.base_url is not None and servers.idle_api_only.base_url is not None
    async with AsyncJobsClient(servers.worker.base_url, live_tenant.key) as client:
        started = await client.start("echo", {"async": True}, correlation_id="async-1")
        done = await client.wait(started.jobId, timeout=15)
        assert done.status.state is JobState.COMPLETED
        assert done.output == [
            {"input": {"async": True}, "jobId": started.jobId, "correlationId": "async-1"}
        ]
        assert await client.info(started.jobId) == done
        sleeper = await client.start("sleeper", {"seconds": 30})
        await client.cancel(sleeper.jobId)  # CANCELED if still waiting, else CANCELING
        assert (await client.wait(sleeper.jobId, timeout=15)).status.state is JobState.CANCELED
        with pytest.raises(NotFound) as missing:
            await client.info(UNKNOWN_JOB)
        assert missing.value.code == "JOB_NOT_FOUND"
    async with AsyncJobsClient(servers.idle_api_only.base_url, idle_tenant.key) as idle:
        waiting = await idle.start("echo")
        with pytest.raises(WaitTimeout):
            await idle.wait(waiting.jobId, timeout=0.2)
        by_rule = await idle.cancel_all_rule("echo", 1)
        assert by_rule.canceledCount == 1
        by_space = await idle.cancel_all_space(idle_tenant.space_id)
        assert by_space.canceledCount == 0
