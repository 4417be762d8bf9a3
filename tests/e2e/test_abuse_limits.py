"""The abuse limits over HTTP, on one API-only server with small limits: the
per-key start rate, the cap on a space's waiting jobs, the cap on long-polls
and event streams. Each answers 429 with a problem body and Retry-After."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from flowjobs.store import upgrade
from support.processes import FLOWS, serving

from .helpers import assert_problem

BURST = 3
WAITING_CAP = 5
SERVER_ENV = {
    "FLOWJOBS_START_RATE_PER_KEY": "0.2",  # one start every 5 s after the burst
    "FLOWJOBS_START_BURST_PER_KEY": str(BURST),
    "FLOWJOBS_MAX_WAITING_JOBS_PER_SPACE": str(WAITING_CAP),
    "FLOWJOBS_MAX_WAITERS": "1",
}


@dataclass
class Limited:
    base_url: str
    keys: list[str]  # Solver keys of space "limits"

    def start(self, key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.post(f"{self.base_url}/job/start/sleeper", headers=headers, timeout=15)


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    tmp = tmp_path_factory.mktemp("e2e-limits")
    url = f"sqlite:///{tmp / 'limits.db'}"
    upgrade(url)
    with serving(url, tmp, worker=False, name="limits", extra_env=SERVER_ENV) as server:
        assert server.base_url is not None
        _cli(url, "space", "create", "limits")
        keys = [_cli(url, "key", "create", "--space", "limits")["key"] for _ in range(3)]
        _cli(url, "rule", "push", str(FLOWS / "sleeper.yaml"), "--space", "limits", "--publish")
        yield Limited(server.base_url, keys)


def test_start_rate_and_waiting_cap(limited: Limited) -> None:
    first, second, third = limited.keys
    started = [limited.start(first) for _ in range(BURST)]
    assert [r.status_code for r in started] == [200] * BURST

    limited_start = limited.start(first)
    body = assert_problem(limited_start, 429, "RATE_LIMITED")
    assert limited_start.headers["retry-after"] in {"4", "5"}  # 5 s less the time gone
    assert "faster than allowed" in body["detail"]
    # every way to start a job takes from the same bucket
    headers = {"Authorization": f"Bearer {first}"}
    for path in ("/job/start/sleeper/latest", f"/job/rerun/{started[0].json()['jobId']}"):
        again = httpx.post(f"{limited.base_url}{path}", headers=headers, timeout=15)
        assert_problem(again, 429, "RATE_LIMITED")

    # a key of its own has a bucket of its own: it fills the space up to the cap
    more = [limited.start(second) for _ in range(WAITING_CAP - BURST)]
    assert [r.status_code for r in more] == [200] * (WAITING_CAP - BURST)
    full = limited.start(third)
    body = assert_problem(full, 429, "TOO_MANY_WAITING_JOBS")
    assert full.headers["retry-after"] == "5"
    assert f"{WAITING_CAP} waiting jobs" in body["detail"]

    # the cap counts WAITING jobs only: one canceled, one more may start
    job_id = started[0].json()["jobId"]
    canceled = httpx.post(f"{limited.base_url}/job/cancel/{job_id}", headers=headers, timeout=15)
    assert canceled.status_code == 200
    assert limited.start(third).status_code == 200  # one slot freed


def test_one_waiter_at_a_time(limited: Limited) -> None:
    key = limited.keys[2]
    headers = {"Authorization": f"Bearer {key}"}
    jobs = httpx.get(f"{limited.base_url}/job?state=WAITING", headers=headers, timeout=15)
    job_id = jobs.json()["jobs"][0]["jobId"]
    holding = threading.Event()
    answers: list[int] = []

    def long_poll() -> None:
        with httpx.Client(timeout=15) as http:
            holding.set()
            answers.append(
                http.get(f"{limited.base_url}/job/{job_id}?wait=3", headers=headers).status_code
            )

    poller = threading.Thread(target=long_poll)
    poller.start()
    try:
        assert holding.wait(5)
        refused: httpx.Response | None = None
        for _ in range(40):  # bounded: until the long-poll holds the only waiter slot
            answer = httpx.get(
                f"{limited.base_url}/job/{job_id}?wait=0.1", headers=headers, timeout=15
            )
            if answer.status_code == 429:
                refused = answer
                break
        assert refused is not None, "the second waiter was never refused"
        assert_problem(refused, 429, "TOO_MANY_WAITERS")
        assert refused.headers["retry-after"] == "1"
        # an event stream counts against the same cap (the long-poll holds it for 3 s)
        stream = httpx.get(f"{limited.base_url}/job/{job_id}/events", headers=headers, timeout=15)
        assert_problem(stream, 429, "TOO_MANY_WAITERS")
    finally:
        poller.join(timeout=10)
    assert answers == [200]
