"""/metrics, /healthz, /readyz and the JSON log lines of the live server."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.processes import wait_for

from .conftest import Servers
from .helpers import Api


def _samples(
    client: httpx.Client, base_url: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(f"{base_url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_jobs_requests_and_the_queue(live: Api) -> None:
    before = _samples(live.client, live.base_url)
    jobs = [live.start_ok("echo", {"n": n}) for n in range(3)]
    for job in jobs:
        assert live.wait_final(job["jobId"])["status"]["state"] == "COMPLETED"
    after = _samples(live.client, live.base_url)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("flowjobs_jobs_started_total") >= 3
    assert grew("flowjobs_jobs_finished_total", state="COMPLETED", code="JOB_SUCCESS") >= 3
    assert grew("flowjobs_claims_total") >= 3
    assert grew("flowjobs_dispatch_latency_seconds_count") >= 3
    assert grew("flowjobs_job_duration_seconds_count") >= 3
    route = {"route": "/job/{jobId}", "method": "GET", "status": "200"}
    assert grew("flowjobs_http_requests_total", **route) >= 3
    starts = {"route": "/job/start/{identifier}", "method": "POST", "status": "200"}
    assert grew("flowjobs_http_requests_total", **starts) == 3
    assert ("flowjobs_jobs_waiting", (("space", "live-a"),)) in after
    assert ("flowjobs_jobs_running", (("space", "live-b"),)) in after
    assert after[("flowjobs_database_up", ())] == 1
    labels = " ".join(str(key[1]) for key in after)
    assert all(job["jobId"] not in labels for job in jobs)  # ids never become labels


def test_health_and_readiness(live: Api) -> None:
    for path in ("/healthz", "/health"):
        assert live.client.get(live.base_url + path).json() == {"status": "ok"}
    ready = live.client.get(live.base_url + "/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_log_lines_about_a_job_carry_its_ids(live: Api, servers: Servers) -> None:
    correlation = f"logs-{uuid.uuid4()}"
    failed = live.start_ok("failing", {"what": "x"}, headers={"X-Correlation-Id": correlation})
    live.wait_final(failed["jobId"])

    def about_the_job() -> list[dict[str, Any]]:
        lines = servers.worker.log_lines()
        return [line for line in lines if line.get("jobId") == failed["jobId"]]

    wait_for(lambda: {"claim", "fail"} <= {line["action"] for line in about_the_job()})
    lines = about_the_job()
    assert all(line["correlationId"] == correlation for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
