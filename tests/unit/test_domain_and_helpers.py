"""Pure parts: statuses, version resolution, input unwrapping, output shape, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowjobs import domain
from flowjobs.api.deps import parse_json, unwrap_input
from flowjobs.config import Settings
from flowjobs.domain import (
    JobRecord,
    JobState,
    JobStatusCode,
    RuleStatus,
    RuleVersion,
    output_array,
)
from flowjobs.errors import (
    InvalidJsonError,
    InvalidVersionError,
    JsonTooDeepError,
    RuleVersionNotFoundError,
)
from flowjobs.flowsettings import execution_limit
from flowjobs.ids import is_uuid
from flowjobs.keys import hash_secret, new_secret
from flowjobs.schemas import Job
from flowjobs.versions import resolve_version


@pytest.mark.parametrize(
    ("status", "state", "code", "message"),
    [
        (domain.INITIALIZED, "WAITING", "JOB_INITIALIZED", "Job initialized"),
        (domain.REQUEUED, "WAITING", "JOB_WAITING", "Job is waiting for a free slot"),
        (domain.RUNNING, "RUNNING", "JOB_RUNNING", "Job is being processed"),
        (domain.CANCELING, "CANCELING", "JOB_RUNNING", "Job is being canceled"),
        (domain.USER_CANCELED, "CANCELED", "JOB_USER_CANCELED", "Job was canceled"),
        (domain.COMPLETED, "COMPLETED", "JOB_SUCCESS", "Job completed"),
        (domain.ZOMBIE, "ERROR", "ZOMBIE_PROCESS", "The process running the job stopped"),
        (domain.timed_out(90), "ERROR", "JOB_TIMEOUT", "Job exceeded its execution limit of 90 s"),
    ],
)
def test_status_table(status: domain.Status, state: str, code: str, message: str) -> None:
    assert (status.state.value, status.code.value, status.message) == (state, code, message)


def test_enums_are_exactly_the_reference_ones() -> None:
    assert [s.value for s in JobState] == [
        "WAITING",
        "RUNNING",
        "COMPLETED",
        "CANCELING",
        "CANCELED",
        "ERROR",
    ]
    assert len(JobStatusCode) == 12
    assert {JobState.COMPLETED, JobState.CANCELED, JobState.ERROR} == domain.FINAL_STATES


def _rule(version: int, status: RuleStatus) -> RuleVersion:
    return RuleVersion("b", "s", "a", "n", None, "integration-flow", version, status, {})


def test_resolve_version_picks_published_only() -> None:
    versions = [
        _rule(1, RuleStatus.PUBLISHED),
        _rule(2, RuleStatus.PUBLISHED),
        _rule(3, RuleStatus.PENDING),
    ]
    assert resolve_version(versions, None).version == 2
    assert resolve_version(versions, "latest").version == 2
    assert resolve_version(versions, "1").version == 1
    with pytest.raises(RuleVersionNotFoundError):
        resolve_version(versions, "3")
    with pytest.raises(InvalidVersionError):
        resolve_version(versions, "-1")
    with pytest.raises(RuleVersionNotFoundError):
        resolve_version([_rule(1, RuleStatus.PENDING)], None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {"a": 1}}, {"a": 1}),
        ({"data": [1, 2], "options": {"x": True}}, [1, 2]),
        ({"data": 1, "other": 2}, {"data": 1, "other": 2}),
        ({"options": {}}, {"options": {}}),
        ([1, 2], [1, 2]),
        ("text", "text"),
        (None, None),
    ],
)
def test_unwrap_input(body: object, expected: object) -> None:
    assert unwrap_input(body) == expected


def test_parse_json_rejects_bad_and_deep_documents() -> None:
    assert parse_json(b"", max_depth=64) == {}
    assert parse_json(b' {"a": 1} ', max_depth=64) == {"a": 1}
    with pytest.raises(InvalidJsonError):
        parse_json(b"{nope", max_depth=64)
    with pytest.raises(JsonTooDeepError):
        parse_json(b"[" * 100_000 + b"]" * 100_000, max_depth=64)


def test_output_is_always_an_array() -> None:
    assert output_array({"a": 1}) == [{"a": 1}]
    assert output_array([1, 2]) == [1, 2]
    assert output_array(None) == [None]


def test_execution_limit_takes_the_lower_of_deployment_and_flow() -> None:
    settings = Settings(execution_limit_seconds=100)
    assert execution_limit(settings, {}) == 100
    assert execution_limit(settings, {"settings": {"timeoutSeconds": 5}}) == 5
    assert execution_limit(settings, {"settings": {"timeoutSeconds": 500}}) == 100


def test_is_uuid() -> None:
    assert is_uuid("5b0f6c8e-3d8a-4a8e-9a53-0c1d3f0b7e11")
    assert not is_uuid("xyz")


def test_keys_are_random_and_hashed() -> None:
    a, b = new_secret(domain.KeyKind.SOLVER), new_secret(domain.KeyKind.SOLVER)
    assert a != b and a.startswith("fjs_") and len(a) > 40
    assert hash_secret(a) == hash_secret(a) and len(hash_secret(a)) == 64
    assert a not in hash_secret(a)


def test_settings_accept_the_reference_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_SERVER_DISABLED", "true")
    assert Settings().jobs_server_disabled is True
    monkeypatch.delenv("JOBS_SERVER_DISABLED")
    monkeypatch.setenv("FLOWJOBS_JOBS_SERVER_DISABLED", "1")
    assert Settings().jobs_server_disabled is True


def test_job_json_has_every_reference_field() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = JobRecord(
        id="j",
        space_id="s",
        base_id="b",
        version=2,
        rule_type="integration-flow",
        correlation_id="c",
        input={"x": 1},
        output=None,
        error={"message": "m", "nodeId": "n", "type": "FlowFailed"},
        state=JobState.ERROR,
        code=JobStatusCode.JOB_EXECUTION_ERROR,
        message="m",
        priority=3,
        parallel_limit=4,
        environment_group="staging",
        api_key_id="k",
        api_key_name="key",
        execution_limit_s=10,
        created_at=now,
        updated_at=now,
        claimed_at=now,
        ended_at=now,
        worker_id="w",
        attempts=1,
    )
    body = Job.from_record(record).model_dump(mode="json")
    assert set(body) == {
        "jobId",
        "correlationId",
        "ruleReference",
        "inputData",
        "output",
        "context",
        "status",
        "createdAt",
        "updatedAt",
        "claimedAt",
        "endedAt",
        "apiKey",
        "error",
        "progress",
        "rerunOf",
    }
    assert set(body["context"]) == {
        "spaceId",
        "billingUserId",
        "executorUser",
        "usedApiKeyId",
        "environmentGroup",
        "priority",
        "parallelLimit",
    }
    assert body["ruleReference"] == {"baseId": "b", "version": 2, "type": "integration-flow"}
    assert body["apiKey"] == {"id": "k", "name": "key"}
    assert body["error"] == {"message": "m", "nodeId": "n", "type": "FlowFailed"}
    assert body["createdAt"].startswith("2026-01-02T03:04:05")
