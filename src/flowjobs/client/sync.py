"""``JobsClient``: the Jobs API over HTTP, blocking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType

import httpx

from flowjobs.client.common import (
    _CONNECT_ERRORS,
    Input,
    JobEvent,
    JobFilter,
    Model,
    Version,
    _Backoff,
    _Call,
    _cancel,
    _cancel_all_rule,
    _cancel_all_space,
    _EventReader,
    _events,
    _from_environment,
    _headers,
    _info,
    _list,
    _logs,
    _parse,
    _rerun,
    _Retry,
    _start,
    _trace,
)
from flowjobs.client.errors import (
    WaitTimeout,
)
from flowjobs.domain import FINAL_STATES
from flowjobs.schemas import (
    Job,
    JobList,
    JobLogs,
    JobTrace,
    RuleCancelResult,
    SpaceCancelResult,
)


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
