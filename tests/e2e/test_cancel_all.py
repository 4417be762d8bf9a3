"""POST /job/cancelAll/space/{spaceId} and /job/cancelAll/rule/{identifier}/{version}."""

from __future__ import annotations

import pytest

from .helpers import Api, assert_problem

CANCELED = {"state": "CANCELED", "code": "JOB_USER_CANCELED", "message": "Job was canceled"}


def _clear_space(api: Api) -> None:
    """Cancel what earlier tests left WAITING, so that counts below are exact."""
    response = api.cancel_space(api.tenant.space_id)
    assert response.status_code == 200, response.text


# ---- space ------------------------------------------------------------------------------


def test_cancel_all_in_space_cancels_every_waiting_job(idle: Api) -> None:
    _clear_space(idle)
    jobs = [idle.start_ok("echo"), idle.start_ok("echo"), idle.start_ok("sleeper")]

    response = idle.cancel_space(idle.tenant.space_id)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "spaceId": idle.tenant.space_id,
        "canceledCount": 3,
        "cancelingCount": 0,
    }
    for started in jobs:
        job = idle.job(started["jobId"])
        assert job["status"] == CANCELED
        assert job["endedAt"] is not None

    again = idle.cancel_space(idle.tenant.space_id)
    assert again.json() == {
        "spaceId": idle.tenant.space_id,
        "canceledCount": 0,
        "cancelingCount": 0,
    }


def test_cancel_all_in_space_leaves_running_jobs_alone(live: Api, sleepers: list[str]) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])
    running = live.wait_state(started["jobId"], "RUNNING")

    response = live.cancel_space(live.tenant.space_id)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "spaceId": live.tenant.space_id,
        "canceledCount": 0,
        "cancelingCount": 0,
    }
    assert live.job(started["jobId"]) == running


def test_cancel_all_in_space_with_running_cancels_running_jobs(
    live: Api, sleepers: list[str]
) -> None:
    ids = [live.start_ok("sleeper", {"seconds": 30})["jobId"] for _ in range(2)]
    sleepers.extend(ids)
    for job_id in ids:
        live.wait_state(job_id, "RUNNING")

    response = live.cancel_space(live.tenant.space_id, running=True)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "spaceId": live.tenant.space_id,
        "canceledCount": 0,
        "cancelingCount": 2,
    }
    for job_id in ids:
        job = live.wait_state(job_id, "CANCELED")
        assert job["status"] == CANCELED
        assert job["endedAt"] is not None


@pytest.mark.parametrize("running", [False, True])
@pytest.mark.parametrize("which", ["other-space", "garbage", "random-uuid"])
def test_cancel_all_in_a_space_not_of_the_key_is_forbidden(
    idle: Api, idle_b: Api, which: str, running: bool
) -> None:
    started = idle_b.start("echo")  # space B has no rules: nothing of B's may move
    assert_problem(started, 404, "RULE_NOT_FOUND")
    waiting = idle.start_ok("echo")
    space_id = {
        "other-space": idle_b.tenant.space_id,
        "garbage": "garbage",
        "random-uuid": "6f1e2d3c-0000-4000-8000-000000000000",
    }[which]

    assert_problem(idle.cancel_space(space_id, running=running), 403, "FORBIDDEN")

    assert idle.job(waiting["jobId"]) == waiting


# ---- rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["alias", "baseId"])
@pytest.mark.parametrize("version", ["1", "latest"])
def test_cancel_all_of_a_rule_cancels_only_its_waiting_jobs(
    idle: Api, by: str, version: str
) -> None:
    rule = idle.tenant.rules["echo"]
    identifier = rule["ruleAlias"] if by == "alias" else rule["baseId"]
    assert idle.cancel_rule("echo", "latest").status_code == 200  # clear earlier leftovers
    echoes = [idle.start_ok("echo"), idle.start_ok("echo")]
    other = idle.start_ok("sleeper")

    response = idle.cancel_rule(identifier, version)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "ruleReference": {"baseId": rule["baseId"], "version": 1, "type": "integration-flow"},
        "canceledCount": 2,
        "cancelingCount": 0,
    }
    for started in echoes:
        assert idle.job(started["jobId"])["status"] == CANCELED
    assert idle.job(other["jobId"]) == other  # another rule's job stays WAITING
    assert idle.cancel(other["jobId"]).status_code == 200


def test_cancel_all_of_a_rule_leaves_running_jobs_alone(live: Api, sleepers: list[str]) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])
    running = live.wait_state(started["jobId"], "RUNNING")

    response = live.cancel_rule("sleeper", "1")

    assert response.status_code == 200, response.text
    assert response.json()["canceledCount"] == 0
    assert response.json()["cancelingCount"] == 0
    assert live.job(started["jobId"]) == running


def test_cancel_all_of_a_rule_with_running_cancels_its_running_jobs(
    live: Api, sleepers: list[str]
) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])
    live.wait_state(started["jobId"], "RUNNING")

    response = live.cancel_rule("sleeper", "latest", running=True)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "ruleReference": {
            "baseId": live.tenant.rules["sleeper"]["baseId"],
            "version": 1,
            "type": "integration-flow",
        },
        "canceledCount": 0,
        "cancelingCount": 1,
    }
    assert live.wait_state(started["jobId"], "CANCELED")["status"] == CANCELED


@pytest.mark.parametrize(
    ("identifier", "version", "status", "code"),
    [
        ("no-such-rule", "1", 404, "RULE_NOT_FOUND"),
        ("no-such-rule", "latest", 404, "RULE_NOT_FOUND"),
        ("6f1e2d3c-0000-4000-8000-000000000000", "1", 404, "RULE_NOT_FOUND"),
        ("echo", "99", 404, "RULE_VERSION_NOT_FOUND"),
        ("echo", "abc", 400, "INVALID_VERSION"),
    ],
)
def test_cancel_all_of_an_unknown_rule_or_version_is_refused(
    idle: Api, identifier: str, version: str, status: int, code: str
) -> None:
    waiting = idle.start_ok("echo")

    assert_problem(idle.cancel_rule(identifier, version), status, code)

    assert idle.job(waiting["jobId"]) == waiting
