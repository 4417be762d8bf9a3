"""A Python client for the Jobs API: ``JobsClient`` (sync) and ``AsyncJobsClient``.

Results are the server's own pydantic models (``Job``, ``SpaceCancelResult``,
``RuleCancelResult``); an error answer raises a ``JobsApiError`` subclass that
carries the problem body. Network failures are httpx's own exceptions.
Imports nothing of the server, only the shared shapes::

    from flowjobs.client import JobsClient

    with JobsClient("http://127.0.0.1:8000", "fjs_...") as jobs:
        job = jobs.start("sleepy-echo", {"name": "Ada"})
        print(jobs.wait(job.jobId, timeout=60).output)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from flowjobs import __version__
from flowjobs.domain import FINAL_STATES
from flowjobs.schemas import Job, Problem, RuleCancelResult, SpaceCancelResult

__all__ = [
    "AsyncJobsClient",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "JobsApiError",
    "JobsClient",
    "JobsClientError",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "ServerError",
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
    error = ServerError if status >= 500 else _ERRORS.get(status, JobsApiError)
    raise error(problem)


# ---- requests, shared by both clients ---------------------------------------------------


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None  # None: no body
    long_poll: float = 0.0  # seconds the server may hold the answer


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _start(
    rule: str,
    input: Any,
    version: int | str | None,
    correlation_id: str | None,
    priority: int | None,
) -> _Call:
    path = f"/job/start/{_segment(rule)}"
    if version is not None:
        path += f"/{_segment(version)}"
    return _Call(
        "POST",
        path,
        params={} if priority is None else {"priority": priority},
        headers={} if correlation_id is None else {"X-Correlation-Id": correlation_id},
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


# ---- the clients ----------------------------------------------------------------------------


class JobsClient:
    """The Jobs API over HTTP, blocking. ``base_url`` is the server's root
    (``http://127.0.0.1:8000``); ``api_key`` a Solver key of the space."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._http = httpx.Client(base_url=base_url, headers=_headers(api_key), timeout=timeout)

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

    def _send(self, call: _Call, model: type[Model]) -> Model:
        response = self._http.request(
            call.method,
            call.path,
            params=call.params,
            headers=call.headers,
            json=call.json,
            timeout=self._timeout + call.long_poll,
        )
        return _parse(response, model)

    def start(
        self,
        rule: str,
        input: Any = None,
        version: int | str | None = None,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
    ) -> Job:
        """Start a job of ``rule`` (alias or baseId) with ``input`` (any JSON value;
        None: ``{}``), of the latest published version unless ``version`` is given."""
        return self._send(_start(rule, input, version, correlation_id, priority), Job)

    def info(self, job_id: str) -> Job:
        return self._send(_info(job_id), Job)

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
    """The same as ``JobsClient``, for asyncio: every method is a coroutine."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout
        )

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

    async def _send(self, call: _Call, model: type[Model]) -> Model:
        response = await self._http.request(
            call.method,
            call.path,
            params=call.params,
            headers=call.headers,
            json=call.json,
            timeout=self._timeout + call.long_poll,
        )
        return _parse(response, model)

    async def start(
        self,
        rule: str,
        input: Any = None,
        version: int | str | None = None,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
    ) -> Job:
        return await self._send(_start(rule, input, version, correlation_id, priority), Job)

    async def info(self, job_id: str) -> Job:
        return await self._send(_info(job_id), Job)

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
