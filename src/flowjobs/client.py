"""A Python client for the Jobs API: ``JobsClient`` (sync) and ``AsyncJobsClient``.

Every call of the Jobs API the server has: start (with an idempotency key),
info, wait, list (filters and cursor; ``iter_jobs`` follows the pages),
events (an iterator of the job's Server-Sent Events), rerun, trace, logs,
cancel and cancel-all (with ``running``). Results are the server's own
pydantic models (``Job``, ``JobList``, ``JobTrace``...); an error answer
raises a ``JobsApiError`` subclass that carries the problem body.

The URL and key default to ``FLOWJOBS_URL`` (else http://127.0.0.1:8000)
and ``FLOWJOBS_KEY``. A refused connection, and a 503 of a call that is safe
to repeat, are retried a few times with a growing pause (``retries``); what
still fails raises httpx's own exception or ``ServiceUnavailable``.
Installing it needs only httpx and pydantic (``pip install flowjobs``)::

    from flowjobs.client import JobsClient

    with JobsClient() as jobs:  # FLOWJOBS_URL, FLOWJOBS_KEY
        job = jobs.start("sleepy-echo", {"name": "Ada"})
        print(jobs.wait(job.jobId, timeout=60).output)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from flowjobs import __version__
from flowjobs.domain import FINAL_STATES, JobState
from flowjobs.schemas import (
    Job,
    JobList,
    JobLogs,
    JobTrace,
    Problem,
    RuleCancelResult,
    SpaceCancelResult,
)

__all__ = [
    "AsyncJobsClient",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "JobEvent",
    "JobFilter",
    "JobsApiError",
    "JobsClient",
    "JobsClientError",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "WaitTimeout",
]

Model = TypeVar("Model", bound=BaseModel)

# ---- errors -------------------------------------------------------------------------


class JobsClientError(Exception):
    """Base of every error this client raises itself."""


class JobsApiError(JobsClientError):
    """The server answered an error; ``problem`` is its RFC 9457 body."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"{problem.status} {problem.code}: {problem.detail}")

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str:
        return self.problem.code

    @property
    def detail(self) -> str:
        return self.problem.detail

    @property
    def problems(self) -> list[str]:
        return self.problem.problems or []


class BadRequest(JobsApiError):
    """400: the request is not valid (bad version, body, priority...)."""


class Unauthorized(JobsApiError):
    """401: the API key is missing or unknown."""


class QuotaExceeded(JobsApiError):
    """402: the space's free execution seconds for the month are used up."""


class Forbidden(JobsApiError):
    """403: the key may not do this (wrong kind of key, another space)."""


class NotFound(JobsApiError):
    """404: no such job or rule in the key's space."""


class Conflict(JobsApiError):
    """409: the job's state does not allow it (e.g. cancel of a finished job)."""


class PayloadTooLarge(JobsApiError):
    """413: the input is larger than the server accepts."""


class ServerError(JobsApiError):
    """5xx: the server or its database failed; ``detail`` has a log reference."""


class ServiceUnavailable(ServerError):
    """503: the server cannot reach its database, or is starting or stopping."""


_ERRORS: dict[int, type[JobsApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: QuotaExceeded,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
}


class WaitTimeout(JobsClientError, TimeoutError):
    """``wait`` gave up: the job had not ended within the timeout."""

    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job  # as last seen
        super().__init__(f"job {job.jobId} is still {job.status.state.value} after {timeout:g} s")


def _problem_of(response: httpx.Response) -> Problem:
    """The problem body, or one made up from the status when the answer has
    none (a proxy's HTML error page, say)."""
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        status = response.status_code
        phrase = response.reason_phrase or f"HTTP {status}"
        return Problem(
            title=phrase, status=status, detail=response.text[:500] or phrase, code="HTTP_ERROR"
        )


def _parse(response: httpx.Response, model: type[Model]) -> Model:
    if response.is_success:
        return model.model_validate_json(response.content)
    problem = _problem_of(response)
    status = response.status_code
    raise _error_class(status)(problem)


def _error_class(status: int) -> type[JobsApiError]:
    if status == 503:
        return ServiceUnavailable
    return ServerError if status >= 500 else _ERRORS.get(status, JobsApiError)


# ---- requests, shared by both clients ---------------------------------------------------


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


class JobsClient:
    """The Jobs API over HTTP, blocking. ``base_url`` is the server's root
    (default ``FLOWJOBS_URL``, else http://127.0.0.1:8000); ``api_key`` a
    Solver key of the space (default ``FLOWJOBS_KEY``)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        retry_pause: float = 0.2,
    ) -> None:
        url, key = _from_environment(base_url, api_key)
        self._timeout = timeout
        self._retry = _Retry(retries, retry_pause)
        self._http = httpx.Client(base_url=url, headers=_headers(key), timeout=timeout)

    def __enter__(self) -> JobsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, call: _Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    headers=call.headers,
                    json=call.json,
                    timeout=self._timeout + call.long_poll,
                )
            except _CONNECT_ERRORS:
                if attempt >= self._retry.retries:
                    raise
                time.sleep(self._retry.pause(attempt))
            else:
                if not self._retry.again(attempt, call, response):
                    return response
                time.sleep(self._retry.pause(attempt, response))
            attempt += 1

    def _send(self, call: _Call, model: type[Model]) -> Model:
        return _parse(self._request(call), model)

    def start(
        self,
        rule: str,
        input: Input = None,
        version: Version = None,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Start a job of ``rule`` (alias or baseId) with ``input`` (any JSON value;
        None: ``{}``), of the latest published version unless ``version`` is given.
        With ``idempotency_key``, a repeated start answers the job it started."""
        call = _start(rule, input, version, correlation_id, priority, idempotency_key)
        return self._send(call, Job)

    def info(self, job_id: str) -> Job:
        return self._send(_info(job_id), Job)

    def list(
        self,
        filters: JobFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        full: bool = False,
    ) -> JobList:
        """One page of the space's jobs, newest first; pass its ``nextCursor``
        as ``cursor`` for the next. ``full``: with inputData and output."""
        return self._send(_list(filters or JobFilter(), limit, cursor, full), JobList)

    def iter_jobs(
        self, filters: JobFilter | None = None, *, page_size: int = 100, full: bool = False
    ) -> Iterator[Job]:
        """Every job that matches, page after page."""
        cursor: str | None = None
        while True:
            page = self.list(filters, limit=page_size, cursor=cursor, full=full)
            yield from page.jobs
            if page.nextCursor is None:
                return
            cursor = page.nextCursor

    def rerun(self, job_id: str, *, correlation_id: str | None = None) -> Job:
        """A new job with the same rule version and input as an ERROR or CANCELED one."""
        return self._send(_rerun(job_id, correlation_id), Job)

    def trace(self, job_id: str) -> JobTrace:
        return self._send(_trace(job_id), JobTrace)

    def logs(self, job_id: str) -> JobLogs:
        return self._send(_logs(job_id), JobLogs)

    def events(self, job_id: str) -> Iterator[JobEvent]:
        """The job's events as they happen, ending with ``end`` once it is final."""
        call = _events(job_id)
        timeout = httpx.Timeout(self._timeout, read=None)  # keep-alives come every 15 s
        with self._http.stream("GET", call.path, timeout=timeout) as response:
            if not response.is_success:
                response.read()
                _parse(response, Job)
            reader = _EventReader()
            for line in response.iter_lines():
                event = reader.feed(line)
                if event is not None:
                    yield event
                    if event.kind == "end":
                        return

    def cancel(self, job_id: str) -> Job:
        """A waiting job is CANCELED at once, a running one CANCELING (see ``wait``)."""
        return self._send(_cancel(job_id), Job)

    def cancel_all_space(self, space_id: str, *, running: bool = False) -> SpaceCancelResult:
        """Cancel the space's waiting jobs (and, with ``running``, ask running ones to stop)."""
        return self._send(_cancel_all_space(space_id, running), SpaceCancelResult)

    def cancel_all_rule(
        self, rule: str, version: int | str, *, running: bool = False
    ) -> RuleCancelResult:
        """The same for one version of a rule (``"latest"`` allowed)."""
        return self._send(_cancel_all_rule(rule, version, running), RuleCancelResult)

    def wait(self, job_id: str, timeout: float) -> Job:
        """The job once COMPLETED, ERROR or CANCELED; ``WaitTimeout`` after ``timeout`` s."""
        backoff = _Backoff(timeout)
        while True:
            job = self._send(_info(job_id, backoff.server_wait()), Job)
            if job.status.state in FINAL_STATES:
                return job
            pause = backoff.pause()
            if pause is None:
                raise WaitTimeout(job, timeout)
            time.sleep(pause)


class AsyncJobsClient:
    """The same as ``JobsClient``, for asyncio: every method is a coroutine
    (``iter_jobs`` and ``events`` are async iterators)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        retry_pause: float = 0.2,
    ) -> None:
        url, key = _from_environment(base_url, api_key)
        self._timeout = timeout
        self._retry = _Retry(retries, retry_pause)
        self._http = httpx.AsyncClient(base_url=url, headers=_headers(key), timeout=timeout)

    async def __aenter__(self) -> AsyncJobsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, call: _Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    headers=call.headers,
                    json=call.json,
                    timeout=self._timeout + call.long_poll,
                )
            except _CONNECT_ERRORS:
                if attempt >= self._retry.retries:
                    raise
                await asyncio.sleep(self._retry.pause(attempt))
            else:
                if not self._retry.again(attempt, call, response):
                    return response
                await asyncio.sleep(self._retry.pause(attempt, response))
            attempt += 1

    async def _send(self, call: _Call, model: type[Model]) -> Model:
        return _parse(await self._request(call), model)

    async def start(
        self,
        rule: str,
        input: Input = None,
        version: Version = None,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        call = _start(rule, input, version, correlation_id, priority, idempotency_key)
        return await self._send(call, Job)

    async def info(self, job_id: str) -> Job:
        return await self._send(_info(job_id), Job)

    async def list(
        self,
        filters: JobFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        full: bool = False,
    ) -> JobList:
        return await self._send(_list(filters or JobFilter(), limit, cursor, full), JobList)

    async def iter_jobs(
        self, filters: JobFilter | None = None, *, page_size: int = 100, full: bool = False
    ) -> AsyncIterator[Job]:
        cursor: str | None = None
        while True:
            page = await self.list(filters, limit=page_size, cursor=cursor, full=full)
            for job in page.jobs:
                yield job
            if page.nextCursor is None:
                return
            cursor = page.nextCursor

    async def rerun(self, job_id: str, *, correlation_id: str | None = None) -> Job:
        return await self._send(_rerun(job_id, correlation_id), Job)

    async def trace(self, job_id: str) -> JobTrace:
        return await self._send(_trace(job_id), JobTrace)

    async def logs(self, job_id: str) -> JobLogs:
        return await self._send(_logs(job_id), JobLogs)

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        call = _events(job_id)
        timeout = httpx.Timeout(self._timeout, read=None)
        async with self._http.stream("GET", call.path, timeout=timeout) as response:
            if not response.is_success:
                await response.aread()
                _parse(response, Job)
            reader = _EventReader()
            async for line in response.aiter_lines():
                event = reader.feed(line)
                if event is not None:
                    yield event
                    if event.kind == "end":
                        return

    async def cancel(self, job_id: str) -> Job:
        return await self._send(_cancel(job_id), Job)

    async def cancel_all_space(self, space_id: str, *, running: bool = False) -> SpaceCancelResult:
        return await self._send(_cancel_all_space(space_id, running), SpaceCancelResult)

    async def cancel_all_rule(
        self, rule: str, version: int | str, *, running: bool = False
    ) -> RuleCancelResult:
        return await self._send(_cancel_all_rule(rule, version, running), RuleCancelResult)

    async def wait(self, job_id: str, timeout: float) -> Job:
        backoff = _Backoff(timeout)
        while True:
            job = await self._send(_info(job_id, backoff.server_wait()), Job)
            if job.status.state in FINAL_STATES:
                return job
            pause = backoff.pause()
            if pause is None:
                raise WaitTimeout(job, timeout)
            await asyncio.sleep(pause)
