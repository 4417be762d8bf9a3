"""Fair shares of the waiter slots over HTTP (issue 17, point 5): one Solver
key that holds every long-poll and event stream it may cannot make another
space's ``?wait=`` or ``/events`` get 429. Found with one key holding all
1,000 slots of a process; here with small caps on one API-only server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from flowjobs.store import upgrade
from support.processes import FLOWS, serving

from .helpers import assert_problem

PROCESS_CAP = 6
SPACE_CAP = 4
KEY_CAP = 3
SERVER_ENV = {
    "FLOWJOBS_MAX_WAITERS": str(PROCESS_CAP),
    "FLOWJOBS_MAX_WAITERS_PER_SPACE": str(SPACE_CAP),
    "FLOWJOBS_MAX_WAITERS_PER_KEY": str(KEY_CAP),
}


@dataclass
class Shared:
    base_url: str
    busy_keys: list[str]  # Solver keys of space "busy"
    quiet_key: str  # the Solver key of space "quiet"

    def waiting_job(self, key: str) -> str:
        started = httpx.post(f"{self.base_url}/job/start/sleeper", headers=_auth(key), timeout=15)
        assert started.status_code == 200, started.text
        return str(started.json()["jobId"])


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    tmp = tmp_path_factory.mktemp("e2e-waiter-shares")
    url = f"sqlite:///{tmp / 'shares.db'}"
    upgrade(url)
    with serving(url, tmp, worker=False, name="shares", extra_env=SERVER_ENV) as server:
        assert server.base_url is not None
        keys: dict[str, list[str]] = {}
        for space in ("busy", "quiet"):
            _cli(url, "space", "create", space)
            keys[space] = [_cli(url, "key", "create", "--space", space)["key"] for _ in range(2)]
            _cli(url, "rule", "push", str(FLOWS / "sleeper.yaml"), "--space", space, "--publish")
        yield Shared(server.base_url, keys["busy"], keys["quiet"][0])


async def _hold_streams(
    stack: AsyncExitStack, http: httpx.AsyncClient, url: str, key: str, most: int
) -> list[httpx.Response]:
    """Open event streams with ``key`` until one is refused (or ``most`` are
    open); each open stream holds a waiter slot until the stack closes. The
    stream's headers come after its slot is taken, so no sleep is needed."""
    answers: list[httpx.Response] = []
    for _ in range(most):
        response = await stack.enter_async_context(http.stream("GET", url, headers=_auth(key)))
        answers.append(response)
        if response.status_code != 200:
            await response.aread()
            break
    return answers


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=PROCESS_CAP * 3)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:
        yield client


async def test_one_key_holding_its_share_leaves_room_for_other_spaces(
    shared: Shared, http: httpx.AsyncClient
) -> None:
    busy_job = shared.waiting_job(shared.busy_keys[0])
    quiet_job = shared.waiting_job(shared.quiet_key)
    busy_events = f"{shared.base_url}/job/{busy_job}/events"
    async with AsyncExitStack() as stack:
        # The busy space's first key opens all it can: its share, not the process's slots.
        first = await _hold_streams(stack, http, busy_events, shared.busy_keys[0], PROCESS_CAP)
        assert [r.status_code for r in first] == [200] * KEY_CAP + [429]
        assert "this API key" in assert_problem(first[-1], 429, "TOO_MANY_WAITERS")["detail"]
        # Its second key: what is left of the space's share.
        second = await _hold_streams(stack, http, busy_events, shared.busy_keys[1], PROCESS_CAP)
        assert [r.status_code for r in second] == [200] * (SPACE_CAP - KEY_CAP) + [429]
        assert "this space" in assert_problem(second[-1], 429, "TOO_MANY_WAITERS")["detail"]

        # The quiet space still long-polls and streams.
        polled = await http.get(
            f"{shared.base_url}/job/{quiet_job}?wait=0.2", headers=_auth(shared.quiet_key)
        )
        assert polled.status_code == 200, polled.text
        assert polled.json()["status"]["state"] == "WAITING"
        quiet_events = f"{shared.base_url}/job/{quiet_job}/events"
        async with http.stream("GET", quiet_events, headers=_auth(shared.quiet_key)) as stream:
            assert stream.status_code == 200

    # Once the busy space's streams are closed, its keys wait again.
    again = await http.get(
        f"{shared.base_url}/job/{busy_job}?wait=0.1", headers=_auth(shared.busy_keys[0])
    )
    assert again.status_code == 200
