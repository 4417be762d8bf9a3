"""The worker: claims jobs, runs their flows, renews leases, stops canceled
jobs, reaps dead workers' jobs, and shuts down without losing any.

A job's life is four steps: claim (in the store, one transaction for every
free slot), run (the engine, inside a timeout), finish (handed to the ending
batcher, worker/endings.py, which writes the ends of every job that finished
meanwhile in one transaction), notify (wake the claim loop: a finished flow
frees its slot at once, so the next claim runs beside the write of its end).
Four loops run beside the jobs: claim, watch (cancels), reap, and flush
(trace, logs and progress of running jobs). Lease heartbeats run in a thread
of their own (worker/heartbeats.py), so a busy event loop cannot starve them.
Two more keep the worker's registry row fresh (registry) and prune old rows
hourly (housekeeping, worker/housekeeping.py); with webhooks, the dispatcher sends the events of
ended jobs (worker/dispatcher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from flowjobs import domain
from flowjobs.config import Settings
from flowjobs.domain import ClaimedJob, Heartbeat, JobEnding, JobRecord, JobState, output_array
from flowjobs.engine import Flow, JobRef, RunContext, Trace, run_flow
from flowjobs.errors import FlowExecutionError, FlowValidationError, StoreError
from flowjobs.flowsetup import engine_limits
from flowjobs.logs import job_context, job_fields
from flowjobs.manager import JobManager
from flowjobs.solver import SolverService
from flowjobs.webhooks import WebhookService
from flowjobs.worker.dispatcher import Dispatcher
from flowjobs.worker.endings import EndingBatcher
from flowjobs.worker.flows import FlowLoader
from flowjobs.worker.heartbeats import LeaseThread
from flowjobs.worker.housekeeping import Housekeeping
from flowjobs.worker.output import OUTPUT_INVALID, not_json
from flowjobs.worker.recorder import JobRecorder

log = logging.getLogger("flowjobs.worker")

StopReason = Literal["user", "shutdown", "lost"]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunningJob:
    job: JobRecord
    ctx: RunContext
    recorder: JobRecorder
    task: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    started: float = field(default_factory=time.monotonic)
    # Where the job's task is, for _stop_job: only a flow that is "running"
    # may be interrupted by cancelling the task. A task cancelled while
    # "pending" (before its first step) would never enter its coroutine, and
    # one cancelled while "finishing" (recording its end) would lose that
    # end; both see stop_reason instead, and the store lets a cancel win.
    phase: Literal["pending", "running", "finishing"] = "pending"
    stop_since: float | None = None  # time.monotonic() of the first stop


class Worker:
    def __init__(
        self,
        manager: JobManager,
        settings: Settings,
        *,
        concurrency: int | None = None,
        burst: bool = False,
        worker_id: str | None = None,
        webhooks: WebhookService | None = None,
        solver: SolverService | None = None,
    ) -> None:
        self.manager = manager
        self.settings = settings
        self.events = manager.events
        self.concurrency = concurrency or settings.concurrency
        self.burst = burst
        self.id = worker_id or new_worker_id()
        self.running: dict[str, RunningJob] = {}
        self.limits = engine_limits(settings)
        self.flows = FlowLoader(manager, settings, solver)
        self.endings = EndingBatcher(manager.end_jobs)
        self._stopping = asyncio.Event()
        self._claiming = asyncio.Lock()  # held by a claim from its query to its launches
        self._loops: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self._burst_end: asyncio.Task[None] | None = None
        # Tasks of jobs ended CANCELED after the cancel grace period although
        # their flow would not stop (it swallowed every CancelledError): still
        # canceled again at every watch, and still holding a slot of this worker.
        self._abandoned: set[asyncio.Task[None]] = set()
        self._leases: LeaseThread | None = None
        self.housekeeping = Housekeeping(
            manager, settings, self.id, self.concurrency, lambda: len(self.running)
        )
        self.dispatcher = (
            None
            if webhooks is None
            else Dispatcher(
                webhooks.delivery,
                settings,
                self.id,
                self.events.webhook_due,
                lambda outcome: manager.metrics.webhook_deliveries.labels(outcome).inc(),
            )
        )

    # ---- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        log.info(
            "worker started",
            extra={"action": "start", "worker": self.id, "concurrency": self.concurrency},
        )
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="claim"),
            asyncio.create_task(self._watch_loop(), name="watch"),
            asyncio.create_task(self._reap_loop(), name="reap"),
            asyncio.create_task(self._flush_loop(), name="flush"),
            asyncio.create_task(self.housekeeping.registry_loop(), name="registry"),
            asyncio.create_task(self.housekeeping.housekeeping_loop(), name="housekeeping"),
            asyncio.create_task(self.manager.listen(), name="listen"),
        ]
        if self.dispatcher is not None:
            self._loops.append(asyncio.create_task(self.dispatcher.run(), name="webhooks"))
        self._leases = LeaseThread(
            worker_id=self.id,
            interval=self.settings.heartbeat_interval,
            open_renewer=self.manager.lease_renewer,
            running_jobs=lambda: list(self.running),
            on_beat=self._apply_heartbeat,
            loop=asyncio.get_running_loop(),
        )
        self._leases.start()

    async def wait_stopped(self) -> None:
        await self._done.wait()

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop claiming, give running jobs ``grace`` seconds, release the rest."""
        if self._stopping.is_set():
            await self._done.wait()
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping.set()
        self.events.notify_waiting()
        async with self._claiming:  # a claim in flight launches its jobs first
            pass
        log.info(
            "worker stopping",
            extra={
                "action": "stop",
                "worker": self.id,
                "running": len(self.running),
                "grace": grace,
            },
        )
        dispatcher_stopped = (
            None
            if self.dispatcher is None
            else asyncio.create_task(self.dispatcher.stop(grace), name="webhooks-stop")
        )
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        canceled = len(self.running)  # still running after the grace period
        await self._stop_after_shutdown_grace()
        if dispatcher_stopped is not None:
            await dispatcher_stopped
        if self._leases is not None:
            await asyncio.to_thread(self._leases.stop)
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.flows.close()
        await self.housekeeping.mark_stopped()
        self._done.set()
        log.info(  # what was drained: jobs that finished in the grace period, jobs canceled
            "worker stopped",
            extra={
                "action": "stopped",
                "worker": self.id,
                "finished": max(len(tasks) - canceled, 0),
                "canceled": canceled,
            },
        )

    # ---- claim ---------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            self.events.job_waiting.clear()
            claimed = await self._claim_free_slots()
            if self.burst and not claimed and not self.running:
                self._burst_end = asyncio.create_task(self.shutdown())
                return
            if claimed and self._free_slots() > 0:
                # The queue may hold more: look again, once the jobs just
                # launched have taken their first step. A flow that holds the
                # loop then does so before the next claim opens its write
                # transaction, not while it is open (on SQLite that would
                # block every writer, lease renewals included).
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.events.job_waiting.wait(), self.settings.poll_interval)

    async def _claim_free_slots(self) -> list[ClaimedJob]:
        # Under the claim lock: shutdown waits for a claim in flight, so the
        # jobs it took are launched (and given the grace period) before
        # shutdown looks at what runs, never abandoned RUNNING.
        async with self._claiming:
            free = self._free_slots()
            if free <= 0 or self._stopping.is_set():
                return []
            try:
                claimed = await self.manager.claim(self.id, free)
            except StoreError:
                log.exception("claim failed", extra={"action": "claim", "worker": self.id})
                return []
            for item in claimed:
                self._launch(item)
            return claimed

    def _free_slots(self) -> int:
        """Jobs this worker may claim now. A job whose flow has ended holds no
        slot while its end is written (worker/endings.py), so the next claim
        runs beside that write instead of after it (the database, where such
        a job is RUNNING until written, still keeps each space's
        parallelLimit exact). At most ``concurrency`` flows run, and at most
        as many more jobs wait for their ends to be written, so a slow
        database cannot make ended jobs pile up in memory."""
        flows = sum(1 for r in self.running.values() if r.phase != "finishing")
        flows += len(self._abandoned)
        return min(self.concurrency - flows, 2 * self.concurrency - len(self.running))

    def _finishing(self, running: RunningJob) -> None:
        """The job's flow has ended: its slot is free for the next claim."""
        running.phase = "finishing"
        self.events.notify_waiting()

    def _launch(self, claimed: ClaimedJob) -> None:
        job = claimed.job
        log.info(
            "job claimed",
            extra={
                "action": "claim",
                **job_fields(job.id, job.correlation_id),
                "worker": self.id,
                "spaceId": job.space_id,
                "runningInSpace": claimed.running_in_space,
                "parallelLimit": job.parallel_limit,
            },
        )
        recorder = JobRecorder(
            max_lines=self.settings.job_log_max_lines,
            max_line_bytes=self.settings.job_log_line_max_bytes,
            trace=Trace(self.limits.trace_max_entries, self.limits.trace_excerpt_bytes),
            max_depth=self.settings.max_json_depth,
        )
        ctx = RunContext(
            job.input,
            JobRef(job.id, job.correlation_id, job.space_id),
            on_log=recorder.log,
            on_progress=recorder.fraction,
            on_items=recorder.items,
            trace=recorder.trace,
        )
        running = RunningJob(job, ctx, recorder)
        self.running[job.id] = running
        running.task = asyncio.create_task(self._run_job(claimed, running), name=job.id)

    # ---- run and finish -----------------------------------------------------------

    async def _run_job(self, claimed: ClaimedJob, running: RunningJob) -> None:
        job = claimed.job
        # Every line logged while the job runs (worker, engine, store) names it.
        with job_context(job.id, job.correlation_id):
            try:
                await self._execute(claimed, running)
            finally:
                self.running.pop(job.id, None)
                self.manager.metrics.job_duration.observe(time.monotonic() - running.started)
                self.events.notify_waiting()  # a slot is free

    async def _execute(self, claimed: ClaimedJob, running: RunningJob) -> None:
        job = claimed.job
        try:
            flow = await self.flows.compile(job.base_id, job.version, claimed.document)
        except FlowValidationError as exc:
            status = domain.validation_error(exc.message)
            await self._fail(running, status, exc, None, details=False)
            return
        if running.stop_reason is not None:  # stopped before its first step
            await self._after_stop(running, running.stop_reason, details=False)
            return
        running.phase = "running"
        try:
            output = await self._run_with_deadline(flow, running)
        except asyncio.CancelledError:
            self._finishing(running)
            await self._after_stop(running, running.stop_reason)
        except TimeoutError:
            self._finishing(running)
            await self._fail(running, domain.timed_out(job.execution_limit_s), None, None)
        except FlowExecutionError as exc:
            self._finishing(running)
            await self._fail(running, domain.execution_error(exc.message), exc, exc.node_id)
        except Exception as exc:  # the job boundary: a bad flow must not kill the worker
            self._finishing(running)
            reference = uuid.uuid4().hex[:12]
            log.exception(
                "job crashed", extra={"action": "crash", "jobId": job.id, "reference": reference}
            )
            await self._fail(running, domain.internal_error(reference), exc, None, details=False)
        else:
            self._finishing(running)
            problem = not_json(output, self.settings.max_json_depth)
            if problem is not None:  # too deep, NUL, NaN (say from a REST body) ...
                invalid = FlowExecutionError(problem, error_type=OUTPUT_INVALID)
                await self._fail(running, domain.execution_error(problem), invalid, None)
                return
            state = await self._end(running, domain.COMPLETED, output=output_array(output))
            log.info(
                "job completed" if state is JobState.COMPLETED else "job ended",
                extra={
                    "action": "complete",
                    "jobId": job.id,
                    # CANCELED when a cancel won the race; "not held" when the
                    # lease ran out (the reaper ends the job) or the store stayed down
                    "state": "not held" if state is None else str(state),
                    "seconds": round(time.monotonic() - running.started, 3),
                },
            )

    async def _end(
        self,
        running: RunningJob,
        status: domain.Status | None,
        *,
        output: list[Any] | None = None,
        error: dict[str, Any] | None = None,
        details: bool = True,
    ) -> JobState | None:
        """Hand the job's end, with its final trace, logs and progress, to the
        batcher (worker/endings.py), which writes it with the other endings of
        the moment in one transaction; the state the job ended in (None: this
        worker no longer held it, or the store stayed down). ``status`` None:
        the job was stopped on a cancel, so only a CANCELING job ends."""
        recorder = running.recorder
        # Under the recorder's lock, as every save of it: a periodic save that
        # is running finishes first, so it can never land over the final one.
        async with recorder.saving:
            snapshot = recorder.take() if details and recorder.changed else None
            ending = JobEnding(
                running.job.id,
                self.id,
                status,
                output=output,
                error=error,
                details=snapshot,
                progress=recorder.progress if details else None,
            )
            state: JobState | None = await self._persist(self.endings.end, ending)
            return state

    async def _run_with_deadline(self, flow: Flow, running: RunningJob) -> Any:
        claimed_at = running.job.claimed_at or datetime.now(UTC)
        elapsed = (datetime.now(UTC) - claimed_at).total_seconds()
        async with asyncio.timeout(max(0.0, running.job.execution_limit_s - elapsed)):
            return await run_flow(
                flow,
                running.ctx,
                limits=self.limits,
                services=self.flows.services(running.job.space_id),
            )

    async def _save_details(self, running: RunningJob, *, final: bool = True) -> None:
        """Save the run's trace, logs and progress if they changed. One save at
        a time per job, each taking the newest snapshot, so that a slow
        periodic save can never land after (and over) the final one."""
        recorder = running.recorder
        async with recorder.saving:
            if not recorder.changed:
                return
            details = recorder.take()
            if final:
                await self._persist(
                    self.manager.save_details, running.job.id, details, recorder.progress
                )
            else:
                await self.manager.save_details(running.job.id, details, recorder.progress)

    async def _after_stop(
        self, running: RunningJob, reason: StopReason | None, *, details: bool = True
    ) -> None:
        job = running.job
        if reason == "shutdown":
            await self._end(running, self._shutdown_status(), details=details)
        elif reason == "user":
            await self._end(running, None, details=details)
        elif details:  # lease lost: the reaper ends the job; keep what the run recorded
            await self._save_details(running)
        log.info("job stopped", extra={"action": "stopped", "jobId": job.id, "reason": reason})

    def _shutdown_status(self) -> domain.Status:
        message = (
            "The worker shut down before the job finished "
            f"(grace period {self.settings.shutdown_grace_seconds:g} s)"
        )
        return domain.system_canceled(message)

    async def _fail(
        self,
        running: RunningJob,
        status: domain.Status,
        exc: BaseException | None,
        node_id: str | None,
        *,
        details: bool = True,
    ) -> None:
        error_type = getattr(exc, "error_type", None) or (type(exc).__name__ if exc else None)
        error = domain.error_detail(status, node_id=node_id, error_type=error_type)
        await self._end(running, status, error=error, details=details)
        code = status.code.value
        log.info("job failed", extra={"action": "fail", "jobId": running.job.id, "code": code})

    async def _persist(self, operation: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Write a job's end, retrying a briefly unavailable database; if it stays
        down, the lease runs out and the reaper ends the job instead (None)."""
        for attempt in range(5):
            try:
                return await operation(*args)
            except StoreError:
                log.warning(
                    "store unavailable", extra={"action": "persist", "attempt": attempt + 1}
                )
                await asyncio.sleep(0.2 * 2**attempt)

    # ---- watch: cancels; heartbeats (from the lease thread) ------------------------

    def _stop_job(self, job_id: str, reason: StopReason) -> None:
        running = self.running.get(job_id)
        if running is None or running.task is None or running.stop_reason is not None:
            return
        running.stop_reason = reason
        running.stop_since = time.monotonic()
        running.ctx.cancel()
        if running.phase == "running":
            running.task.cancel()

    def _press_stops(self) -> list[RunningJob]:
        """A flow (or a library under it) may swallow a CancelledError and go
        on: cancel every stopped flow's task again, at every watch, until it
        ends. The jobs canceled by their user whose flow still runs after
        ``cancel_grace_seconds``: to be ended CANCELED regardless."""
        for abandoned in self._abandoned:
            abandoned.cancel()
        grace = self.settings.cancel_grace_seconds
        overdue = []
        for running in list(self.running.values()):
            task = running.task
            if running.stop_since is None or running.phase != "running" or task is None:
                continue
            if task.done():
                continue
            task.cancel()
            if running.stop_reason == "user" and time.monotonic() - running.stop_since >= grace:
                overdue.append(running)
        return overdue

    async def _abandon(self, running: RunningJob, status: domain.Status | None = None) -> None:
        """End a canceled job whose flow will not stop: CANCELED (by its user
        when ``status`` is None, else as ``status`` says), its slot in the
        space free. Its task, if it never stops, is canceled again at every
        watch and keeps one slot of this worker (it still runs here)."""
        job = running.job
        task = running.task
        assert task is not None
        log.warning(
            "job did not stop on cancel; ended CANCELED",
            extra={
                "action": "abandon",
                **job_fields(job.id, job.correlation_id),
                "graceSeconds": self.settings.cancel_grace_seconds,
            },
        )
        self.running.pop(job.id, None)
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)
        await self._end(running, status)
        self.events.notify_waiting()

    async def _stop_after_shutdown_grace(self) -> None:
        """At shutdown, after the grace period: stop every job still running,
        cancel their tasks again until they end (a flow may swallow one
        CancelledError), and end those that will not stop within
        ``cancel_grace_seconds`` as canceled by the system."""
        for job_id in list(self.running):
            self._stop_job(job_id, "shutdown")
        deadline = time.monotonic() + self.settings.cancel_grace_seconds
        pending = {r.task for r in self.running.values() if r.task is not None}
        while pending:
            _, pending = await asyncio.wait(pending, timeout=self.settings.cancel_poll_interval)
            if time.monotonic() >= deadline:
                break
            self._press_stops()
        for running in [r for r in self.running.values() if r.task in pending]:
            await self._abandon(running, self._shutdown_status())

    async def _watch_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.events.cancel_requested.wait(), self.settings.cancel_poll_interval
                )
            for overdue in self._press_stops():
                await self._abandon(overdue)
            named = self.events.take_cancels()
            if not self.running:
                continue
            try:
                for job_id in await self._jobs_to_cancel(named):
                    self._stop_job(job_id, "user")
            except StoreError:
                log.exception("watch failed", extra={"action": "watch", "worker": self.id})

    async def _jobs_to_cancel(self, named: set[str] | None) -> Iterable[str]:
        """The jobs a cancel notification named are CANCELING already (the
        notification is sent by the commit that made them so): stop those of
        them that run here, without a query. Woken by the poll (nothing
        named) or by a request that did not name its jobs (None): ask the
        store which of this worker's jobs are CANCELING."""
        if named:
            return named & self.running.keys()
        return await self.manager.canceling_jobs(self.id)

    def _apply_heartbeat(self, beat: Heartbeat) -> None:
        """What the lease thread learnt, acted on in the main loop."""
        for job_id in beat.canceling:
            self._stop_job(job_id, "user")
        for job_id in beat.lost:
            running = self.running.get(job_id)
            if running is None or running.stop_reason is not None:
                continue  # it ended (or is being stopped) since the heartbeat began
            fields = job_fields(job_id, running.job.correlation_id)
            log.warning("lease lost", extra={"action": "lost", **fields})
            self._stop_job(job_id, "lost")

    async def _renew_own_leases(self) -> None:
        """Renew this worker's leases before it reaps. After the event loop
        was held (the lease thread renews meanwhile, but on SQLite a write
        transaction suspended by the hold blocks every writer, the thread
        too), this reaper would otherwise be the first to run, and end its
        own live jobs ZOMBIE_PROCESS before the thread's renewal got the
        lock."""
        if self.running:
            self._apply_heartbeat(await self.manager.heartbeat(self.id, list(self.running)))

    async def _flush_loop(self) -> None:
        """Save running jobs' trace, logs and progress so that they can be
        watched while the jobs run."""
        while True:
            await asyncio.sleep(self.settings.details_flush_interval)
            for running in list(self.running.values()):
                try:
                    await self._save_details(running, final=False)
                except StoreError:
                    job = running.job
                    log.exception(
                        "flush failed",
                        extra={"action": "flush", **job_fields(job.id, job.correlation_id)},
                    )

    async def _reap_loop(self) -> None:
        while True:
            try:
                await self._renew_own_leases()
                reaped = await self.manager.reap()
                if reaped:
                    log.info("jobs reaped", extra={"action": "reap", "count": reaped})
                    self.events.notify_webhook()
            except StoreError:
                log.exception("reap failed", extra={"action": "reap", "worker": self.id})
            await asyncio.sleep(self.settings.reap_interval)
