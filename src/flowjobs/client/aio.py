"""``AsyncJobsClient``: the Jobs API over HTTP, for asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
