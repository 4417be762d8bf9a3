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

# every name is re-exported (``X as X``): the public ones and the helpers tests use
from flowjobs.client.aio import AsyncJobsClient as AsyncJobsClient
from flowjobs.client.common import (
    _CONNECT_ERRORS as _CONNECT_ERRORS,
)
from flowjobs.client.common import (
    DEFAULT_URL as DEFAULT_URL,
)
from flowjobs.client.common import (
    Input as Input,
)
from flowjobs.client.common import (
    JobEvent as JobEvent,
)
from flowjobs.client.common import (
    JobFilter as JobFilter,
)
from flowjobs.client.common import (
    Model as Model,
)
from flowjobs.client.common import (
    Version as Version,
)
from flowjobs.client.common import (
    _Backoff as _Backoff,
)
from flowjobs.client.common import (
    _Call as _Call,
)
from flowjobs.client.common import (
    _cancel as _cancel,
)
from flowjobs.client.common import (
    _cancel_all_rule as _cancel_all_rule,
)
from flowjobs.client.common import (
    _cancel_all_space as _cancel_all_space,
)
from flowjobs.client.common import (
    _EventReader as _EventReader,
)
from flowjobs.client.common import (
    _events as _events,
)
from flowjobs.client.common import (
    _from_environment as _from_environment,
)
from flowjobs.client.common import (
    _headers as _headers,
)
from flowjobs.client.common import (
    _info as _info,
)
from flowjobs.client.common import (
    _list as _list,
)
from flowjobs.client.common import (
    _logs as _logs,
)
from flowjobs.client.common import (
    _parse as _parse,
)
from flowjobs.client.common import (
    _rerun as _rerun,
)
from flowjobs.client.common import (
    _Retry as _Retry,
)
from flowjobs.client.common import (
    _running as _running,
)
from flowjobs.client.common import (
    _segment as _segment,
)
from flowjobs.client.common import (
    _start as _start,
)
from flowjobs.client.common import (
    _trace as _trace,
)
from flowjobs.client.errors import (
    _ERRORS as _ERRORS,
)
from flowjobs.client.errors import (
    BadRequest as BadRequest,
)
from flowjobs.client.errors import (
    Conflict as Conflict,
)
from flowjobs.client.errors import (
    Forbidden as Forbidden,
)
from flowjobs.client.errors import (
    JobsApiError as JobsApiError,
)
from flowjobs.client.errors import (
    JobsClientError as JobsClientError,
)
from flowjobs.client.errors import (
    NotFound as NotFound,
)
from flowjobs.client.errors import (
    PayloadTooLarge as PayloadTooLarge,
)
from flowjobs.client.errors import (
    QuotaExceeded as QuotaExceeded,
)
from flowjobs.client.errors import (
    ServerError as ServerError,
)
from flowjobs.client.errors import (
    ServiceUnavailable as ServiceUnavailable,
)
from flowjobs.client.errors import (
    Unauthorized as Unauthorized,
)
from flowjobs.client.errors import (
    WaitTimeout as WaitTimeout,
)
from flowjobs.client.errors import (
    _error_class as _error_class,
)
from flowjobs.client.errors import (
    _problem_of as _problem_of,
)
from flowjobs.client.sync import JobsClient as JobsClient

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
