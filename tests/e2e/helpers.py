"""Small helpers for the end-to-end tests: an HTTP caller bound to one tenant,
problem-body and job-shape assertions, bounded waits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from support.processes import Tenant, wait_for

PROBLEM_JSON = "application/problem+json"
FINAL_STATES = {"COMPLETED", "CANCELED", "ERROR"}

JOB_FIELDS = {
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
CONTEXT_FIELDS = {
    "spaceId",
    "billingUserId",
    "executorUser",
    "usedApiKeyId",
    "environmentGroup",
    "priority",
    "parallelLimit",
}


@dataclass
class Api:
    """One tenant's view of one server."""

    client: httpx.Client
    base_url: str
    tenant: Tenant

    def _headers(self, key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        out = {} if key is None else {"Authorization": f"Bearer {key}"}
        out.update(headers or {})
        return out

    def post(
        self, path: str, *, key: str | None = "", headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """POST with this tenant's Solver key (``key=None``: no Authorization)."""
        secret = self.tenant.key if key == "" else key
        return self.client.post(self.base_url + path, headers=self._headers(secret, headers), **kw)

    def get(
        self, path: str, *, key: str | None = "", headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        secret = self.tenant.key if key == "" else key
        return self.client.get(self.base_url + path, headers=self._headers(secret, headers), **kw)

    # ---- the five operations -------------------------------------------------------

    def start(self, identifier: str, version: str | int | None = None, **kw: Any) -> httpx.Response:
        path = f"/job/start/{identifier}" + ("" if version is None else f"/{version}")
        return self.post(path, **kw)

    def start_ok(self, identifier: str, data: Any = None, **kw: Any) -> dict[str, Any]:
        """Start a job (body ``{"data": data}``) and return the job, checking 200."""
        if data is not None:
            kw["json"] = {"data": data}
        response = self.start(identifier, **kw)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    def info(self, job_id: str, **kw: Any) -> httpx.Response:
        return self.get(f"/job/{job_id}", **kw)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.info(job_id)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    def cancel(self, job_id: str, **kw: Any) -> httpx.Response:
        return self.post(f"/job/cancel/{job_id}", **kw)

    def cancel_space(self, space_id: str, *, running: bool = False, **kw: Any) -> httpx.Response:
        params = {"running": "true"} if running else None
        return self.post(f"/job/cancelAll/space/{space_id}", params=params, **kw)

    def cancel_rule(
        self, identifier: str, version: str | int, *, running: bool = False, **kw: Any
    ) -> httpx.Response:
        params = {"running": "true"} if running else None
        return self.post(f"/job/cancelAll/rule/{identifier}/{version}", params=params, **kw)

    # ---- waiting -----------------------------------------------------------------------

    def wait_state(self, job_id: str, *states: str, timeout: float = 15) -> dict[str, Any]:
        """Poll the job until its state is one of ``states``; return it."""

        def reached() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"]["state"] in states else None

        job: dict[str, Any] = wait_for(reached, timeout=timeout)
        return job

    def wait_final(self, job_id: str, timeout: float = 15) -> dict[str, Any]:
        return self.wait_state(job_id, *FINAL_STATES, timeout=timeout)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] == HTTPStatus(status).phrase
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_job_shape(job: dict[str, Any]) -> None:
    """Every documented field is there, with the documented nesting."""
    assert set(job) == JOB_FIELDS
    assert set(job["ruleReference"]) == {"baseId", "version", "type"}
    assert set(job["context"]) == CONTEXT_FIELDS
    assert set(job["status"]) == {"state", "code", "message"}
    assert set(job["apiKey"]) == {"id", "name"}
    uuid.UUID(job["jobId"])
    assert job["ruleReference"]["type"] == "integration-flow"
    assert isinstance(job["ruleReference"]["version"], int)
    assert job["apiKey"]["id"] == job["context"]["usedApiKeyId"]
    assert isinstance(job["apiKey"]["name"], str) and job["apiKey"]["name"]
    if job["output"] is not None:
        assert isinstance(job["output"], list)
