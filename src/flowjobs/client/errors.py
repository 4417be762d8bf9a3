"""The errors the client raises: ``JobsClientError``, the ``JobsApiError``
tree (one class per status) and ``WaitTimeout``; the problem body of an
error answer and the class for its status.
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from flowjobs.schemas import (
    Job,
    Problem,
)


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


def _error_class(status: int) -> type[JobsApiError]:
    if status == 503:
        return ServiceUnavailable
    return ServerError if status >= 500 else _ERRORS.get(status, JobsApiError)
