"""GET /api/space/usage, the 402 of start when the quota is used up, and the
``flowjobs space update`` / ``flowjobs usage`` commands, over a real server."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from .conftest import Servers, cli
from .helpers import Api, assert_problem
from .provision import new_tenant

USAGE = "/api/space/usage"
USAGE_FIELDS = {
    "spaceId",
    "spaceName",
    "month",
    "usedSeconds",
    "billedSeconds",
    "quotaSeconds",
    "remainingSeconds",
    "payAsYouGo",
    "jobCounts",
}
NO_JOBS = dict.fromkeys(("WAITING", "RUNNING", "COMPLETED", "CANCELING", "CANCELED", "ERROR"), 0)


def this_month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


@pytest.fixture(scope="module")
def pair(client: httpx.Client, servers: Servers) -> tuple[Api, Api]:
    """Two fresh spaces of the live database; the first has run one echo job."""
    assert servers.worker.base_url is not None
    url = servers.live.url
    first = Api(client, servers.worker.base_url, new_tenant(url, "usage-x", ("echo",)))
    second = Api(client, servers.worker.base_url, new_tenant(url, "usage-y", ("echo",)))
    first.wait_final(first.start_ok("echo", {"n": 1})["jobId"])
    return first, second


def test_usage_answers_the_management_key_its_own_space(pair: tuple[Api, Api]) -> None:
    first, second = pair

    mine = first.get(USAGE, key=first.tenant.management_key)
    theirs = second.get(USAGE, key=second.tenant.management_key)

    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert set(body) == USAGE_FIELDS
    assert body["spaceId"] == first.tenant.space_id
    assert body["month"] == this_month()
    assert body["jobCounts"] == NO_JOBS | {"COMPLETED": 1}
    assert body["usedSeconds"] == body["billedSeconds"] >= 0
    assert (body["quotaSeconds"], body["remainingSeconds"], body["payAsYouGo"]) == (
        None,
        None,
        False,
    )
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["spaceId"] == second.tenant.space_id
    assert theirs.json()["jobCounts"] == NO_JOBS
    assert theirs.json()["usedSeconds"] == 0


def test_usage_needs_a_management_key(pair: tuple[Api, Api]) -> None:
    first, _ = pair

    assert_problem(first.get(USAGE), 403, "WRONG_KEY_KIND")  # the Solver key
    response = first.get(USAGE, key=None)
    assert_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(first.get(USAGE, key="fjm_not-a-key"), 401, "UNAUTHORIZED")


def test_usage_of_another_month_and_a_bad_month(pair: tuple[Api, Api]) -> None:
    first, _ = pair
    key = first.tenant.management_key

    past = first.get(USAGE, key=key, params={"month": "2020-01"})
    bad = first.get(USAGE, key=key, params={"month": "2026-13"})

    assert past.status_code == 200, past.text
    assert (past.json()["month"], past.json()["jobCounts"]) == ("2020-01", NO_JOBS)
    assert past.json()["usedSeconds"] == 0
    body = assert_problem(bad, 400, "INVALID_MONTH")
    assert "YYYY-MM" in body["detail"]


def test_start_answers_402_once_the_quota_is_used_up(
    client: httpx.Client, servers: Servers
) -> None:
    assert servers.worker.base_url is not None
    url = servers.live.url
    tenant = new_tenant(url, "quota", ("sleeper", "echo"), "--quota-seconds", "0.2")
    api = Api(client, servers.worker.base_url, tenant)
    # both start while nothing is used yet; each runs 0.4 s, past the 0.2 s quota
    started = [api.start_ok("sleeper", {"seconds": 0.4})["jobId"] for _ in range(2)]
    canceled = api.start_ok("sleeper", {"seconds": 30})["jobId"]
    assert api.cancel(canceled).status_code == 200
    for job_id in started:
        assert api.wait_final(job_id)["status"]["state"] == "COMPLETED"
    assert api.wait_final(canceled)["status"]["state"] == "CANCELED"

    refused = api.start("echo", json={"n": 1})

    body = assert_problem(refused, 402, "JOB_QUOTA_EXCEEDED")
    # a rerun is a new start: refused alike
    assert_problem(api.post(f"/job/rerun/{canceled}"), 402, "JOB_QUOTA_EXCEEDED")
    assert body["title"] == "Payment Required"
    assert "pay-as-you-go is off" in body["detail"]
    usage = api.get(USAGE, key=tenant.management_key).json()
    assert usage["usedSeconds"] >= 0.8
    assert (usage["billedSeconds"], usage["quotaSeconds"], usage["remainingSeconds"]) == (
        0.2,
        0.2,
        0,
    )
    # the refused start and rerun made no job
    assert usage["jobCounts"] == NO_JOBS | {"COMPLETED": 2, "CANCELED": 1}

    updated = cli(url, "space", "update", tenant.space_id, "--pay-as-you-go", "--json")
    assert (updated["quotaSeconds"], updated["payAsYouGo"]) == (0.2, True)
    # the server trusts its cached space for up to FLOWJOBS_CATALOG_CACHE_SECONDS
    # (1 s) after another process (the CLI) changed it
    deadline = time.monotonic() + 3
    while (answer := api.start("echo", json={"data": {"n": 2}})).status_code == 402:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)
    assert answer.status_code == 200, answer.text
    api.wait_final(answer.json()["jobId"])
    by_http = api.get(USAGE, key=tenant.management_key).json()
    assert cli(url, "usage", tenant.space_id, "--json") == by_http
    assert by_http["billedSeconds"] > 0.2  # the echo's seconds are billed now
