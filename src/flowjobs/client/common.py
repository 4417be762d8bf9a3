"""What both clients share: the request of each call (``_Call``), answers
parsed or raised, list filters, the pauses of ``wait`` and of retries, the
URL and key from the environment, and the reader of Server-Sent Events.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from flowjobs import __version__
from flowjobs.client.errors import (
    JobsClientError,
    _error_class,
    _problem_of,
)
from flowjobs.domain import JobState
from flowjobs.schemas import (
    Job,
)

Model = TypeVar("Model", bound=BaseModel)


def _parse(response: httpx.Response, model: type[Model]) -> Model:
    if response.is_success:
        return model.model_validate_json(response.content)
    problem = _problem_of(response)
    status = response.status_code
    raise _error_class(status)(problem)


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None  # None: no body
    long_poll: float = 0.0  # seconds the server may hold the answer
    # a 503 may be retried: reads, cancels, and starts with an idempotency key
    # (a retried start without one could start the job twice)
    repeatable: bool = True


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _start(
    rule: str,
    input: Any,
    version: int | str | None,
    correlation_id: str | None,
    priority: int | None,
    idempotency_key: str | None = None,
) -> _Call:
    path = f"/job/start/{_segment(rule)}"
    if version is not None:
        path += f"/{_segment(version)}"
    headers = {} if correlation_id is None else {"X-Correlation-Id": correlation_id}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return _Call(
        "POST",
        path,
        params={} if priority is None else {"priority": priority},
        headers=headers,
        repeatable=idempotency_key is not None,
        # Wrapped: the server unwraps {"data": x} to x, so an input that itself
        # looks like {"data": ...} reaches the flow unchanged. No input, no body:
        # the job gets {} as with any client that sends none.
        json=None if input is None else {"data": input},
    )


def _info(job_id: str, wait: int | None = None) -> _Call:
    params = {} if wait is None else {"wait": wait}
    return _Call("GET", f"/job/{_segment(job_id)}", params=params, long_poll=wait or 0)


def _cancel(job_id: str) -> _Call:
    return _Call("POST", f"/job/cancel/{_segment(job_id)}")


def _rerun(job_id: str, correlation_id: str | None) -> _Call:
    headers = {} if correlation_id is None else {"X-Correlation-Id": correlation_id}
    return _Call("POST", f"/job/rerun/{_segment(job_id)}", headers=headers, repeatable=False)


def _trace(job_id: str) -> _Call:
    return _Call("GET", f"/job/{_segment(job_id)}/trace")


def _logs(job_id: str) -> _Call:
    return _Call("GET", f"/job/{_segment(job_id)}/logs")


def _events(job_id: str) -> _Call:
    return _Call("GET", f"/job/{_segment(job_id)}/events")


@dataclass(frozen=True)
class JobFilter:
    """What ``GET /job`` lists: states (any of), a rule (baseId or alias) and
    one of its versions, jobs created at or after ``since``."""

    state: JobState | str | list[JobState | str] | None = None
    rule: str | None = None
    version: int | None = None
    since: datetime | None = None

    def params(self) -> dict[str, Any]:
        states = self.state if isinstance(self.state, list) else [self.state]
        params: dict[str, Any] = {
            "state": ",".join(JobState(s).value for s in states if s is not None) or None,
            "rule": self.rule,
            "version": self.version,
            "since": None if self.since is None else self.since.isoformat(),
        }
        return {k: v for k, v in params.items() if v is not None}


def _list(filters: JobFilter, limit: int | None, cursor: str | None, full: bool) -> _Call:
    params = filters.params()
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    if full:
        params["full"] = "true"
    return _Call("GET", "/job", params=params)


def _running(running: bool) -> dict[str, Any]:
    return {"running": "true"} if running else {}


def _cancel_all_space(space_id: str, running: bool) -> _Call:
    return _Call("POST", f"/job/cancelAll/space/{_segment(space_id)}", params=_running(running))


def _cancel_all_rule(rule: str, version: int | str, running: bool) -> _Call:
    path = f"/job/cancelAll/rule/{_segment(rule)}/{_segment(version)}"
    return _Call("POST", path, params=_running(running))


class _Backoff:
    """The pace of ``wait``: each call asks the server to hold the answer up to
    ``LONG_POLL`` s (``?wait=``; a server without long-polling answers at
    once), then sleeps a short, growing pause, all within the timeout."""

    FIRST_PAUSE = 0.05
    GROWTH = 1.6
    LONGEST_PAUSE = 1.0
    LONG_POLL = 20  # whole seconds

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        if timeout < 0:
            raise ValueError("timeout must be zero or more seconds")
        self.clock = clock
        self.deadline = clock() + timeout
        self.next_pause = self.FIRST_PAUSE

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def server_wait(self) -> int | None:
        """Whole seconds for ``?wait=``; None when less than one is left."""
        seconds = int(self.remaining())
        return min(seconds, self.LONG_POLL) if seconds >= 1 else None

    def pause(self) -> float | None:
        """Seconds to sleep before the next call; None once the time is up."""
        remaining = self.remaining()
        if remaining <= 0:
            return None
        pause = min(self.next_pause, remaining)
        self.next_pause = min(self.next_pause * self.GROWTH, self.LONGEST_PAUSE)
        return pause


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": f"flowjobs-client/{__version__}"}


DEFAULT_URL = "http://127.0.0.1:8000"


def _from_environment(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The arguments, else ``FLOWJOBS_URL`` / ``FLOWJOBS_KEY``."""
    url = base_url or os.environ.get("FLOWJOBS_URL") or DEFAULT_URL
    key = api_key or os.environ.get("FLOWJOBS_KEY")
    if not key:
        raise JobsClientError("no API key: pass api_key or set FLOWJOBS_KEY")
    return url, key


class _Retry:
    """Retries of a call that could not connect, or (when it is safe to
    repeat) got 503: at most ``retries`` more tries, pausing ``first_pause``
    seconds, then twice as long each time, never over ``LONGEST_PAUSE`` (a
    ``Retry-After`` the server sends is followed within that bound)."""

    LONGEST_PAUSE = 5.0

    def __init__(self, retries: int, first_pause: float) -> None:
        if retries < 0 or first_pause < 0:
            raise ValueError("retries and first_pause must be zero or more")
        self.retries = retries
        self.first_pause = first_pause

    def pause(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` from 0)."""
        pause: float = self.first_pause * 2**attempt
        asked = None if response is None else response.headers.get("Retry-After")
        if asked is not None and asked.strip().isdigit():  # seconds; an HTTP date is ignored
            pause = float(asked)
        return min(max(pause, 0.0), self.LONGEST_PAUSE)

    def again(self, attempt: int, call: _Call, response: httpx.Response) -> bool:
        return attempt < self.retries and response.status_code == 503 and call.repeatable


_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)  # the request never reached it


@dataclass(frozen=True)
class JobEvent:
    """One Server-Sent Event of ``GET /job/{id}/events``: ``state`` or
    ``progress`` with the job as it is, then ``end`` with its final state."""

    kind: str
    job: Job | None = None  # state and progress events
    state: JobState | None = None  # the job's state (for ``end``: its final state)


class _EventReader:
    """The events of a text/event-stream, fed line by line (comments, the
    keep-alives, are skipped)."""

    def __init__(self) -> None:
        self.kind = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> JobEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self.kind = value
        elif name == "data":
            self.data.append(value)
        return None

    def _dispatch(self) -> JobEvent | None:
        kind, data = self.kind, "\n".join(self.data)
        self.kind, self.data = "message", []
        if not data:
            return None
        if kind == "end":
            return JobEvent(kind, state=JobState(json.loads(data)["state"]))
        job = Job.model_validate_json(data)
        return JobEvent(kind, job=job, state=job.status.state)


# ---- the clients ----------------------------------------------------------------------------

Input = Any
Version = int | str | None
